package hub_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/hubtest"
)

// TestSkopeoCopy copies images out of the hub and back in with skopeo.
func TestSkopeoCopy(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("SKIPPED: skopeo is not installed (apt-get install skopeo)")
	}
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true})
	h.AddUser(t, "alice", "alice-pw")
	dir := filepath.Join(t.TempDir(), "layout")
	skopeo := func(args ...string) (string, error) {
		cmd := exec.Command("skopeo", append([]string{"--insecure-policy"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := skopeo("copy", "--src-tls-verify=false", "docker://"+h.Host+"/welcome:latest", "oci:"+dir+":welcome"); err != nil {
		t.Fatalf("copy out of the hub: %v\n%s", err, out)
	}
	if out, err := skopeo("copy", "--dest-tls-verify=false", "oci:"+dir+":welcome", "docker://"+h.Host+"/alice/copied:1"); err == nil {
		t.Fatalf("anonymous copy into the hub succeeded:\n%s", out)
	}
	if out, err := skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw", "oci:"+dir+":welcome", "docker://"+h.Host+"/alice/copied:1"); err != nil {
		t.Fatalf("copy into the hub: %v\n%s", err, out)
	}
	a, err := skopeo("inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+h.Host+"/welcome:latest")
	if err != nil {
		t.Fatal(a, err)
	}
	b, err := skopeo("inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+h.Host+"/alice/copied:1")
	if err != nil {
		t.Fatal(b, err)
	}
	if strings.TrimSpace(a) != strings.TrimSpace(b) {
		t.Fatalf("the copy has digest %s, the original %s", b, a)
	}
}
