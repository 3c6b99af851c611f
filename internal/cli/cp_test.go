package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cp copies both ways with a running container, and a symlink in the
// container that points at a host path does not lead out of its root.
func TestCp(t *testing.T) {
	b := withImage(t)
	b.run("run", "-d", "--name", "c1", "img", "sleep", "60")
	host := t.TempDir()
	src := filepath.Join(host, "note.txt")
	if err := os.WriteFile(src, []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("cp", src, "c1:/tmp/")
	if out := b.run("exec", "c1", "cat", "/tmp/note.txt"); out != "from the host\n" {
		t.Errorf("copied in: %q", out)
	}
	b.run("exec", "c1", "sh", "-c", "mkdir -p /data/sub && echo inside > /data/sub/f")
	b.run("cp", "c1:/data", filepath.Join(host, "out"))
	if got, err := os.ReadFile(filepath.Join(host, "out", "sub", "f")); err != nil || string(got) != "inside\n" {
		t.Errorf("copied out: %q, %v", got, err)
	}

	// An escape: /esc points at the host's directory, by its absolute path
	// and by enough ../ to climb out of the root.
	escapee := t.TempDir()
	b.run("exec", "c1", "ln", "-s", "../../../../../../../../.."+escapee, "/esc")
	_, _, code := b.try("", "cp", src, "c1:/esc/")
	if _, err := os.Stat(filepath.Join(escapee, "note.txt")); err == nil {
		t.Fatalf("cp followed a container symlink out of its root (exit %d)", code)
	}
	if code == 0 {
		out := b.run("exec", "c1", "sh", "-c", "ls -R / 2>/dev/null | grep -c note.txt")
		if strings.TrimSpace(out) == "0" {
			t.Errorf("cp succeeded but wrote nowhere in the container")
		}
	}
	b.run("rm", "-f", "c1")
}
