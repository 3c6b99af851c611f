package cli

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/testimage"
)

// The container tests run berth in-process with its runtime on a bridge,
// subnet and run directory of their own, apart from a real berth's.
const (
	testBridge = "berthclitest0"
	testSubnet = "10.81.0.0/16"
)

func setupContainerTests() (cleanup func()) {
	runDir, err := os.MkdirTemp("/tmp", "bct") // short: console sockets live here
	if err != nil {
		panic(err)
	}
	runtimeOptions = engine.RuntimeOptions{RunDir: runDir, Bridge: testBridge, Subnet: testSubnet}
	return func() {
		os.RemoveAll(runDir)
		if l, err := netlink.LinkByName(testBridge); err == nil {
			netlink.LinkDel(l)
		}
	}
}

// needContainers skips a test that cannot run containers here, saying why.
func needContainers(t *testing.T) {
	t.Helper()
	if why := testimage.CannotRunContainers(); why != "" {
		t.Skip(why)
	}
}

var (
	imgOnce    sync.Once
	imgArchive string
	imgErr     error
)

// busyboxArchive is a Docker archive of "img": busybox-static, and a web
// root in a second layer.
func busyboxArchive(t *testing.T) string {
	t.Helper()
	imgOnce.Do(func() {
		var bb []byte
		if bb, imgErr = testimage.Busybox(); imgErr != nil {
			return
		}
		www := testimage.Tar(testimage.File{Name: "www/"}, testimage.File{Name: "www/index.html", Body: "hello from berth\n"})
		a := testimage.DockerArchive(testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, bb, www), Layers: [][]byte{bb, www}, Tags: []string{"img"}})
		var f *os.File
		if f, imgErr = os.CreateTemp("", "berth-cli-img-*.tar"); imgErr != nil {
			return
		}
		defer f.Close()
		if _, imgErr = f.Write(a); imgErr == nil {
			imgArchive = f.Name()
		}
	})
	if imgErr != nil {
		t.Fatal(imgErr)
	}
	return imgArchive
}

// withImage returns a berth whose store holds img. Whatever containers a
// test leaves are removed after it, and nothing may stay mounted.
func withImage(t *testing.T) *berthCLI {
	t.Helper()
	needContainers(t)
	b := newBerth(t)
	b.run("load", "-q", "-i", busyboxArchive(t))
	t.Cleanup(func() {
		out, _, _ := b.try("", "ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			if _, errs, code := b.try("", "rm", "-f", "-v", id); code != 0 {
				t.Errorf("cleanup: rm -f %s: %s", id, errs)
			}
		}
		if mps := mountsUnder(t, b.root); len(mps) > 0 {
			t.Errorf("still mounted after the test: %v", mps)
		}
	})
	return b
}

// mountsUnder lists the mount points under dir in this process's table.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpGet fetches url, retrying while the server comes up.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	var body string
	waitFor(t, "GET "+url, func() bool {
		resp, err := httpClient.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200
	})
	return body
}

// hostPort is the host port `berth port NAME PORT` prints.
func hostPort(t *testing.T, b *berthCLI, name, port string) string {
	t.Helper()
	out := strings.TrimSpace(b.run("port", name, port))
	i := strings.LastIndex(out, ":")
	if i < 0 || !strings.HasPrefix(out, "0.0.0.0:") {
		t.Fatalf("port %s %s: %q", name, port, out)
	}
	return out[i+1:]
}

// psRows is `ps -a` as one line per container, fields split on runs of
// two or more spaces.
func psField(t *testing.T, b *berthCLI, format string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(b.run(append([]string{"ps", "--format", format}, args...)...))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second}
