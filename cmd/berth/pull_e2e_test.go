package main

import (
	"bufio"
	crand "crypto/rand"
	"fmt"
	"io/fs"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub/seed"
	"github.com/berth-dev/berth/internal/hubtest"
)

// throttled serves h at about rate bytes per second per response, so that
// a kill lands in the middle of downloads; it counts the bytes of blobs.
type throttled struct {
	h      http.Handler
	rate   int
	served atomic.Int64
}

func (th *throttled) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
		w = &slowWriter{ResponseWriter: w, rate: th.rate, n: &th.served}
	}
	th.h.ServeHTTP(w, r)
}

type slowWriter struct {
	http.ResponseWriter
	rate int
	n    *atomic.Int64
}

func (s *slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := min(len(p), 64<<10)
		n, err := s.ResponseWriter.Write(p[:chunk])
		written += n
		s.n.Add(int64(n))
		if err != nil {
			return written, err
		}
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(time.Duration(float64(chunk) / float64(s.rate) * float64(time.Second)))
		p = p[chunk:]
	}
	return written, nil
}

func pullEnv(t *testing.T) []string {
	return append(os.Environ(), "BERTH_CONFIG="+filepath.Join(t.TempDir(), "config.json"))
}

// storedBytes is what the store holds in blobs and partial downloads.
func storedBytes(root string) int64 {
	var n int64
	for _, d := range []string{"blobs", "ingest"} {
		filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				if fi, err := e.Info(); err == nil && (d == "blobs" || e.Name() == "data") {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	return n
}

// TestPullKilledAtRandomPoints kills `berth pull` with SIGKILL while it
// downloads, verifies and commits layers, at random times and at chosen
// lines of its output; each time the store stays consistent, and the last
// pull completes fetching only what was not kept.
func TestPullKilledAtRandomPoints(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	im := h.PushRandom(t, "test/big:1", 4, 3<<20)
	var total int64
	for _, l := range im.Layers {
		total += l.Size
	}
	th := &throttled{h: h.Hub, rate: 3 << 20}
	srv := httptest.NewServer(th)
	defer srv.Close()
	ref := srv.Listener.Addr().String() + "/test/big:1"
	root := t.TempDir()
	env := pullEnv(t)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))

	kill := func(afterLine int, after time.Duration) string {
		cmd := exec.Command(berthBin, "--root", root, "pull", ref)
		cmd.Env = env
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var seen []string
		timer := time.AfterFunc(after, func() { cmd.Process.Signal(syscall.SIGKILL) })
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if afterLine > 0 && len(seen) == afterLine {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		timer.Stop()
		cmd.Wait()
		return strings.Join(seen, "\n")
	}
	// Random times first, then chosen lines of the output: after the first
	// layer finished downloading ("Verifying Checksum", while it is
	// verified and committed), after it was committed ("Download
	// complete"), and a while later.
	type point struct {
		line  int
		after time.Duration
	}
	var points []point
	for range 5 {
		points = append(points, point{0, time.Duration(100+rng.Intn(1200)) * time.Millisecond})
	}
	points = append(points, point{6, time.Minute}, point{7, time.Minute}, point{9, time.Minute})
	for i, p := range points {
		kill(p.line, p.after)
		checkClean(t, root)
		if _, err := berthEnv(t, env, root, "image", "inspect", ref); err == nil {
			t.Logf("kill %d came after the pull recorded the image", i)
			os.RemoveAll(root) // start over, so the last pull has work to do
		}
	}
	kept := storedBytes(root)
	before := th.served.Load()
	out, err := berthEnv(t, env, root, "pull", ref)
	if err != nil {
		t.Fatal(err)
	}
	served := th.served.Load() - before
	if !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Errorf("final pull said:\n%s", out)
	}
	t.Logf("kept %d of %d bytes across kills; the last pull fetched %d", kept, total, served)
	if kept > 0 && served > total-kept+(256<<10) {
		t.Errorf("the last pull fetched %d bytes, but only %d were missing", served, total-kept)
	}
	checkClean(t, root)
	insp, err := berthEnv(t, env, root, "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil || strings.TrimSpace(insp) != im.Config.Digest.String() {
		t.Errorf("image after kills: %q %v", insp, err)
	}
}

func berthEnv(t *testing.T, env []string, root string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", root}, args...)...)
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, errb.String())
	}
	return out.String(), nil
}

// TestConcurrentPulls runs ten `berth pull` processes of two images that
// share layers into one store at once.
func TestConcurrentPulls(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	// b shares a's two lower layers, then has its own.
	var layers []seed.Layer
	for i := range 4 {
		data := make([]byte, 1<<20)
		crand.Read(data)
		layers = append(layers, seed.Layer{Files: []seed.File{{Name: fmt.Sprintf("f%d", i), Data: data}}, CreatedBy: fmt.Sprintf("layer %d", i)})
	}
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := seed.Build(layers[:3], seed.Options{Created: created})
	if err != nil {
		t.Fatal(err)
	}
	b, err := seed.Build([]seed.Layer{layers[0], layers[1], layers[3]}, seed.Options{Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if a.Layers[1].Digest != b.Layers[1].Digest {
		t.Fatal("the images do not share their lower layers")
	}
	h.PushImage(t, "test/a:1", a)
	h.PushImage(t, "test/b:1", b)
	th := &throttled{h: h.Hub, rate: 16 << 20}
	srv := httptest.NewServer(th)
	defer srv.Close()
	host := srv.Listener.Addr().String()
	root := t.TempDir()
	env := pullEnv(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref := host + "/test/a:1"
			if i%2 == 1 {
				ref = host + "/test/b:1"
			}
			_, errs[i] = berthEnv(t, env, root, "pull", "-q", ref)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	out, _ := berthEnv(t, env, root, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if got := strings.Join(strings.Fields(out), " "); got != host+"/test/a:1 "+host+"/test/b:1" && got != host+"/test/b:1 "+host+"/test/a:1" {
		t.Errorf("images: %q", got)
	}
	checkClean(t, root)
	var total int64
	for _, l := range a.Layers {
		total += l.Size
	}
	total += b.Layers[2].Size
	t.Logf("ten pulls fetched %d bytes of blobs for %d distinct", th.served.Load(), total)
}
