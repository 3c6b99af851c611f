package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/internal/registrytest"
)

// registriesForInterop are the registries images travel through: berth
// hub (open, so docker needs no login) and the distribution registry.
func registriesForInterop(t *testing.T) map[string]string {
	return map[string]string{
		"hub":          hubtest.New(t, hubtest.Options{}).Host,
		"distribution": registrytest.Start(t, registrytest.Options{}).Host,
	}
}

var pushDigest = regexp.MustCompile(`(?m)^\S+: digest: (sha256:[0-9a-f]{64}) size: \d+$`)

func repoDigests(t *testing.T, inspectJSON string) []string {
	t.Helper()
	var v []struct{ RepoDigests []string }
	if err := json.Unmarshal([]byte(inspectJSON), &v); err != nil || len(v) != 1 {
		t.Fatalf("inspect %q: %v", inspectJSON, err)
	}
	return v[0].RepoDigests
}

// TestBerthPushDockerPull: what berth pushes, dockerd, skopeo and podman
// pull as the same image.
func TestBerthPushDockerPull(t *testing.T) {
	d := dockertest.Shared(t)
	t.Setenv("BERTH_CONFIG", filepath.Join(t.TempDir(), "config.json"))
	src := filepath.Join(t.TempDir(), "rich.tar")
	if err := os.WriteFile(src, richImage(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, host := range registriesForInterop(t) {
		t.Run(name, func(t *testing.T) {
			b := newBerth(t)
			b.run("load", "-i", src)
			ref := host + "/test/rich:1"
			b.run("tag", "rich:1", ref)
			out := b.run("push", ref)
			m := pushDigest.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("push said:\n%s", out)
			}
			d.Docker(t, "pull", ref)
			t.Cleanup(func() { d.Try("rmi", "-f", ref) })
			compareWithDocker(t, d, b, ref)
			want := []string{host + "/test/rich@" + m[1]}
			if got := repoDigests(t, d.Docker(t, "image", "inspect", ref)); strings.Join(got, " ") != want[0] {
				t.Errorf("docker's RepoDigests %v, want %v", got, want)
			}
			if got := repoDigests(t, b.run("image", "inspect", ref)); strings.Join(got, " ") != want[0] {
				t.Errorf("berth's RepoDigests %v, want %v", got, want)
			}
			run := d.Docker(t, "run", "--rm", "--network", "none", ref, "cat", "/www/index.html")
			if run != "<h1>welcome, changed in layer 3</h1>\n" {
				t.Errorf("docker run of the pulled image printed %q", run)
			}
			skopeoInspect(t, ref, m[1])
			podmanPull(t, ref, b)
		})
	}
}

func skopeoInspect(t *testing.T, ref, digest string) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Logf("SKIPPED skopeo inspect: skopeo is not installed (apt-get install skopeo)")
		return
	}
	out, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "docker://"+ref).Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v %s", err, exitStderr(err))
	}
	var v struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Digest != digest || len(v.Layers) != 3 {
		t.Errorf("skopeo inspect: %s (%v), want digest %s and 3 layers", out, err, digest)
	}
}

// podmanPull pulls with podman into a private store; podman cannot run
// everywhere (it needs user namespaces or root), which is then said.
func podmanPull(t *testing.T, ref string, b *berthCLI) {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Logf("SKIPPED podman pull: podman is not installed (apt-get install podman)")
		return
	}
	// podman limits the run root to 50 characters: a short directory.
	dir, err := os.MkdirTemp("/tmp", "pdm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	podman := func(args ...string) (string, error) {
		all := append([]string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs", "--runtime", "runc"}, args...)
		cmd := exec.Command("podman", all...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			return out.String(), &podmanError{err: err, stderr: errb.String()}
		}
		return out.String(), nil
	}
	if out, err := podman("info"); err != nil {
		t.Logf("SKIPPED podman pull: podman cannot run here: %v %s", err, out)
		return
	}
	t.Cleanup(func() { podman("system", "reset", "-f") })
	if _, err := podman("pull", "--tls-verify=false", ref); err != nil {
		t.Fatalf("podman pull: %v", err)
	}
	id, err := podman("image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		t.Fatal(err)
	}
	want := parseInspect(t, b.run("image", "inspect", ref)).ID
	if "sha256:"+strings.TrimSpace(id) != want {
		t.Errorf("podman's image ID %s, berth's %s", id, want)
	}
}

type podmanError struct {
	err    error
	stderr string
}

func (e *podmanError) Error() string { return e.err.Error() + ": " + e.stderr }

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// TestDockerPushBerthPull: what dockerd pushes, berth pulls as the same
// image, with the same repo digest.
func TestDockerPushBerthPull(t *testing.T) {
	d := dockertest.Shared(t)
	t.Setenv("BERTH_CONFIG", filepath.Join(t.TempDir(), "config.json"))
	d.DockerIn(t, richImage(t), "load")
	t.Cleanup(func() { d.Try("rmi", "-f", "rich:1") })
	for name, host := range registriesForInterop(t) {
		t.Run(name, func(t *testing.T) {
			ref := host + "/test/fromdocker:1"
			d.Docker(t, "tag", "rich:1", ref)
			t.Cleanup(func() { d.Try("rmi", "-f", ref) })
			out := d.Docker(t, "push", ref)
			m := pushDigest.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("docker push said:\n%s", out)
			}
			b := newBerth(t)
			out = b.run("pull", ref)
			if !strings.Contains(out, "Digest: "+m[1]+"\n") || !strings.HasSuffix(out, ref+"\n") {
				t.Errorf("berth pull said:\n%s", out)
			}
			compareWithDocker(t, d, b, ref)
			if got := repoDigests(t, b.run("image", "inspect", ref)); strings.Join(got, " ") != host+"/test/fromdocker@"+m[1] {
				t.Errorf("berth's RepoDigests %v, want %s", got, m[1])
			}
			if out := b.run("system", "check"); !strings.Contains(out, " 0 problems") {
				t.Errorf("system check: %s", out)
			}
			// Pushed back to the registry unchanged, it keeps docker's digest.
			back := host + "/test/back:1"
			b.run("tag", ref, back)
			if got := pushDigest.FindStringSubmatch(b.run("push", back)); got == nil || got[1] != m[1] {
				t.Errorf("pushed back as %v, want %s", got, m[1])
			}
		})
	}
}
