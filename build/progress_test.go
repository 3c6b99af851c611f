package build

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/syncbuf"
)

// Plain progress prints every line of a step's output; on a terminal only
// the last lines show, wiped when the step ends.
func TestProgress(t *testing.T) {
	for _, tty := range []bool{false, true} {
		var buf syncbuf.Buffer
		p := &progress{w: &buf, tty: tty}
		p.step("[stage-0 2/2] RUN make")
		out := p.output()
		for i := range 10 {
			fmt.Fprintf(out, "line %d\n", i)
		}
		out.Close()
		p.done(0)
		got := buf.String()
		if !strings.HasPrefix(got, "#1 [stage-0 2/2] RUN make\n") || !strings.HasSuffix(got, "#1 DONE 0.0s\n") {
			t.Errorf("tty %v: %q", tty, got)
		}
		if tty != strings.Contains(got, "\x1b[6A\x1b[J") || tty == strings.Contains(got, "#1 0.") {
			t.Errorf("tty %v: the window is not as it should be: %q", tty, got)
		}
	}
}
