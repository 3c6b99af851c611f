package ui_test

import (
	"bufio"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/internal/webtest"
	"github.com/berth-dev/berth/ui"
)

const evil = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`

// TestBrowserDescriptionsInert: markup in a repository's descriptions
// stays text in chromium, on the hub's pages and in the dashboard's search
// (web/tests/inert.mjs).
func TestBrowserDescriptionsInert(t *testing.T) {
	webtest.Ready(t)
	h := hubtest.New(t, hubtest.Options{})
	h.PushRandom(t, "evil:latest", 1, 256)
	h.SetRepo(t, "evil", hubtest.Repo{Description: hubtest.Ptr(evil), FullDescription: hubtest.Ptr("# Evil\n\n" + evil + "\n\nstill text <iframe src=\"/\"></iframe>")})

	ctx := context.Background()
	e, err := engine.Open(ctx, engine.Options{Root: t.TempDir(), DefaultHub: h.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := ui.New(e, ui.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s)
	defer srv.Close()
	webtest.Script(t, "inert.mjs", 2*time.Minute, "BERTH_HUB_URL="+h.URL, "BERTH_UI_URL="+srv.URL+"/?token="+s.Token())
}

// TestBrowserDashboardWalk is the users' walk through `berth ui` in
// chromium (web/tests/dashboard.mjs): search, pull with progress, details,
// run on a random port, the app, a terminal, delete refused while in use,
// In use, delete the container and the image. It runs the real binary
// (containers need its shim) as root; screenshots: webtest.OutDir/dashboard.
func TestBrowserDashboardWalk(t *testing.T) {
	if why := testimage.CannotRunContainers(); why != "" {
		t.Skip("SKIPPING the dashboard walk: " + why)
	}
	webtest.Ready(t)
	bin := filepath.Join(t.TempDir(), "berth")
	build := exec.Command("go", "build", "-o", bin, "./cmd/berth")
	build.Dir = webtest.Root(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building berth: %v\n%s", err, out)
	}
	// The welcome image runs this berth as its web server.
	h := hubtest.New(t, hubtest.Options{Seed: true, SeedExecutable: bin})
	root := t.TempDir()
	berth := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"--root", root, "--hub", h.Host}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		out, _ := berth("ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			if out, err := berth("rm", "-f", id); err != nil {
				t.Errorf("cleanup: rm %s: %v %s", id, err, out)
			}
		}
	})

	cmd := exec.Command(bin, "--root", root, "--hub", h.Host, "ui", "--addr", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("berth ui did not stop on SIGINT")
		}
	})
	urlRE := regexp.MustCompile(`http://127\.0\.0\.1:\d+/\?token=[0-9a-f]+`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u := urlRE.FindString(sc.Text()); u != "" {
				found <- u
			}
		}
	}()
	var url string
	select {
	case url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("berth ui printed no address")
	}
	webtest.Script(t, "dashboard.mjs", 4*time.Minute, "BERTH_UI_URL="+url)
	if out, _ := berth("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after the walk: %s", out)
	}
	if out, _ := berth("images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("images left after the walk: %s", out)
	}
}
