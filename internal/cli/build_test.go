package cli

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// berth build as Docker's: tags, build args, -q and --iidfile; RUN on the
// default network; an error names the Containerfile's line and fails.
func TestBuildCommand(t *testing.T) {
	b := withImage(t)
	dir := t.TempDir()
	cf := "FROM img\nARG WHO=nobody\nRUN echo \"hi $WHO\" > /greeting\nCMD [\"cat\", \"/greeting\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(cf), 0o644); err != nil {
		t.Fatal(err)
	}
	iid := filepath.Join(t.TempDir(), "iid")
	out := b.run("build", "-q", "-t", "hello:1", "--build-arg", "WHO=you", "--iidfile", iid, dir)
	id, _ := os.ReadFile(iid)
	if strings.TrimSpace(out) != string(id) || !strings.HasPrefix(string(id), "sha256:") {
		t.Fatalf("-q printed %q, --iidfile holds %q", out, id)
	}
	if got := b.run("run", "--rm", "hello:1"); got != "hi you\n" {
		t.Errorf("the image printed %q", got)
	}

	// -o type=docker writes an archive that loads elsewhere with the same ID.
	archive := filepath.Join(t.TempDir(), "out.tar")
	b.run("build", "-q", "--build-arg", "WHO=you", "-o", "type=docker,dest="+archive, dir)
	other := newBerth(t)
	if out := other.run("load", "-i", archive); !strings.Contains(out, strings.TrimPrefix(string(id), "sha256:")[:12]) && !strings.Contains(out, string(id)) {
		t.Errorf("load of -o's archive: %q, want %s", out, id)
	}

	// The second build is cached, and says so.
	_, errs, code := b.try("", "build", "--progress=plain", "-t", "hello:1", "--build-arg", "WHO=you", dir)
	if code != 0 || !strings.Contains(errs, "CACHED") {
		t.Errorf("second build: exit %d:\n%s", code, errs)
	}

	// -f - reads the Containerfile from stdin.
	_, errs, code = b.try("FROM img\nRUN echo one\nRUN exit 2\n", "build", "-f", "-", dir)
	if code == 0 || !strings.Contains(errs, "Containerfile:3: RUN exit 2: exit code 2") {
		t.Errorf("a failing RUN: exit %d:\n%s", code, errs)
	}
	// build - takes a tar context on stdin.
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for name, body := range map[string]string{"Containerfile": "FROM img\nCOPY msg /msg\nCMD [\"cat\", \"/msg\"]\n", "msg": "from stdin\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	if _, errs, code := b.try(ctxTar.String(), "build", "-t", "stdin:1", "-"); code != 0 {
		t.Fatalf("build -: exit %d: %s", code, errs)
	}
	if got := b.run("run", "--rm", "stdin:1"); got != "from stdin\n" {
		t.Errorf("the image built from stdin printed %q", got)
	}
	_, errs, code = b.try("", "build", "--platform", "linux/s390x", dir)
	if code == 0 || !strings.Contains(errs, "this machine's platform only") {
		t.Errorf("--platform of another machine: exit %d: %s", code, errs)
	}
	if out := b.run("builder", "prune", "-a", "-f"); !strings.Contains(out, "Total reclaimed space") {
		t.Errorf("builder prune: %q", out)
	}
}
