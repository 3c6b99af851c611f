package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/syncbuf"
)

func TestCountProgress(t *testing.T) {
	// Quick work shows nothing.
	var quick syncbuf.Buffer
	p := startCountProgress(&quick, "Reading layers", "", time.Hour)
	p.layers(1, 2)
	p.finish()
	if quick.String() != "" {
		t.Errorf("quick work drew %q", quick.String())
	}

	// Slow work is drawn in place, then erased.
	var slow syncbuf.Buffer
	p = startCountProgress(&slow, "Importing", "advisories", 0)
	p.update(3000, -1)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(slow.String(), "Importing: 3000 advisories") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.layers(2, 3)
	time.Sleep(250 * time.Millisecond)
	p.finish()
	out := slow.String()
	if !strings.Contains(out, "\r\033[2KImporting: 3000 advisories") || !strings.Contains(out, "\r\033[2KImporting: 2/3 advisories") || !strings.HasSuffix(out, "\r\033[2K") {
		t.Errorf("slow work drew %q", out)
	}

	// Off a terminal there is no display at all, and nil is safe to use.
	none := newCountProgress(&slow, "x", "")
	if none != nil {
		t.Error("a progress display on a buffer")
	}
	none.layers(1, 1)
	none.finish()
}
