package archive

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// gnuSparseTar is a tar GNU tar writes (in format "gnu" or "posix") of one
// file of size bytes that is a hole but for tail at its end.
func gnuSparseTar(t testing.TB, format string, size int64, tail string) []byte {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("SKIPPED: no GNU tar to write a sparse layer")
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "holes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(tail), size-int64(len(tail))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "sparse.tar")
	if b, err := exec.Command("tar", "--sparse", "--format="+format, "-C", dir, "-cf", out, "holes").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: tar --sparse: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestApplySparseHoles: a sparse file of 300 MB, a few KB in the tar, is
// unpacked with its holes as holes, not 300 MB of zeros written to disk
// (issue 16, finding 4); it reads back the same.
func TestApplySparseHoles(t *testing.T) {
	const size = 300 << 20
	for _, format := range []string{"gnu", "posix"} {
		t.Run(format, func(t *testing.T) {
			layer := gnuSparseTar(t, format, size, "the end")
			t.Logf("the tar: %d bytes", len(layer))
			dir := t.TempDir()
			res, err := Apply(context.Background(), dir, bytes.NewReader(layer), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(dir, "holes"), &st); err != nil {
				t.Fatal(err)
			}
			if st.Size != size || res.Size != size {
				t.Fatalf("size %d (counted %d), want %d", st.Size, res.Size, size)
			}
			if used := st.Blocks * 512; used > 1<<20 {
				t.Errorf("the file takes %d bytes on disk (%d blocks of 512): its holes were written as zeros", used, st.Blocks)
			}
			f, err := os.Open(filepath.Join(dir, "holes"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 4096)
			if _, err := f.ReadAt(buf, 100<<20); err != nil || !bytes.Equal(buf, make([]byte, 4096)) {
				t.Errorf("a hole reads %v, %q...", err, buf[:8])
			}
			if _, err := f.ReadAt(buf[:7], size-7); err != nil || string(buf[:7]) != "the end" {
				t.Errorf("the tail reads %v, %q", err, buf[:7])
			}
		})
	}
}
