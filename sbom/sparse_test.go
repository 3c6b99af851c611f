package sbom

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/sbom/sbomtest"
)

// TestSparseCandidateNotCopied: a layer tar of a few KB declaring a
// 300 MB jar (a sparse file, all holes) is not copied out in full to be
// parsed: past the copy limit the file is skipped with a warning, and
// nothing is left in the temporary directory; a GNU sparse entry is a
// file to the inventory as it is to the extraction (issue 16, finding 4: the
// inventory reads the same hostile layers as the extraction).
func TestSparseCandidateNotCopied(t *testing.T) {
	for _, format := range []string{"posix", "gnu"} {
		t.Run(format, func(t *testing.T) { sparseCandidate(t, format) })
	}
}

func sparseCandidate(t *testing.T, format string) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("SKIPPED: no GNU tar to write a sparse layer")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app/big.jar"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "app/big.jar"), 300<<20); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "layer.tar")
	if b, err := exec.Command("tar", "--sparse", "--format="+format, "-C", dir, "-cf", out, "app").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: tar --sparse: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	got, err := Inventory(context.Background(), []Layer{&sbomtest.Layer{Tar: b}}, WithTempDir(tmp), withCopyLimit(100<<20))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0].Err, "too large") {
		t.Errorf("warnings %+v, want one saying the jar is too large", got.Warnings)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in the temporary directory: %v", left)
	}
}
