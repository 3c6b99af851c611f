package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/internal/hubtest"
)

// tmpfsRoot mounts a tmpfs of the given size for a store root, or skips
// the test when this process may not mount.
func tmpfsRoot(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("SKIPPED: mounting a tmpfs needs root: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// blobCounter counts the GETs of each blob that pass to the hub.
type blobCounter struct {
	mu   sync.Mutex
	gets map[string]int
}

func (c *blobCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := strings.Index(r.URL.Path, "/blobs/sha256:"); i >= 0 && r.Method == http.MethodGet {
			c.mu.Lock()
			c.gets[r.URL.Path[i+len("/blobs/"):]]++
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// TestPullNoSpaceIsLocal: a pull into a store too small for the image
// fails with the local cause first ("no space left on device"), does not
// fetch any blob again as if the network had damaged it, and leaves the
// store consistent (issue 16, finding 11).
func TestPullNoSpaceIsLocal(t *testing.T) {
	// One big layer fills the disk while its blob is still being written
	// (the ingest is cut short, so its bytes hash wrong); several fill it
	// while the files of one are written.
	for _, c := range []struct{ layers, size int }{{1, 4 << 20}, {3, 3 << 20}} {
		t.Run(fmt.Sprintf("%dx%dMB", c.layers, c.size>>20), func(t *testing.T) { pullNoSpace(t, c.layers, c.size) })
	}
}

func pullNoSpace(t *testing.T, layers, size int) {
	ctx := context.Background()
	root := tmpfsRoot(t, "6m")
	h := hubtest.New(t, hubtest.Options{})
	im := h.PushRandom(t, "test/big:1", layers, size) // twice that to store: blobs and files
	counter := &blobCounter{gets: map[string]int{}}
	front := httptest.NewServer(counter.wrap(h.Hub))
	defer front.Close()

	e, err := Open(ctx, Options{Root: root, Runtime: ctr.Options{RuncPath: "/nonexistent/runc", RunDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = e.Pull(ctx, strings.TrimPrefix(front.URL, "http://")+"/test/big:1", PullOptions{})
	if err == nil {
		t.Fatal("a pull bigger than the disk succeeded")
	}
	t.Logf("error: %v", err)
	// Either a write failed for lack of space, or the pull's layers were
	// refused before they were written because they would not fit.
	leads := strings.HasPrefix(err.Error(), "no space left on device in "+root+": ") ||
		strings.HasPrefix(err.Error(), "layer sha256:") && strings.HasSuffix(err.Error(), "free in "+root)
	if !leads || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("the error does not lead with its cause: %v", err)
	}
	if strings.Contains(err.Error(), "digest mismatch") || strings.Contains(err.Error(), "hashed to") {
		t.Errorf("a full disk reads as a damaged download: %v", err)
	}
	for _, l := range im.Layers {
		if n := counter.gets[l.Digest.String()]; n > 1 {
			t.Errorf("layer %s fetched %d times: a local write error was retried", l.Digest, n)
		}
	}
	checkStore(t, e)
}
