package store

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A directory in the layer format becomes a layer without a copy: its tar
// comes out sorted, with OCI whiteouts for overlay's, overlay's own
// xattrs left out, mtimes clamped, and it reads back under its diff ID.
func TestCommitDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("whiteouts and trusted xattrs need root")
	}
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	dir := filepath.Join(s.Root(), "tmp", "commit")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "etc", "opq"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "etc", "b"), []byte("bee"), 0o644))
	must(os.Symlink("b", filepath.Join(dir, "etc", "a")))
	must(unix.Mknod(filepath.Join(dir, "etc", "gone"), unix.S_IFCHR, 0))
	must(unix.Lsetxattr(filepath.Join(dir, "etc", "opq"), "trusted.overlay.opaque", []byte("y"), 0))
	must(unix.Lsetxattr(filepath.Join(dir, "etc", "b"), "trusted.overlay.origin", []byte("x"), 0))
	clamp := time.Unix(1000, 0)
	info, err := s.CommitDir(ctx, dir, "", &clamp)
	must(err)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory is still there: %v", err)
	}
	if info.Size != 3 || !s.HasLayer(info.ChainID) {
		t.Fatalf("layer %+v", info)
	}
	r, err := s.OpenLayerTar(ctx, info.ChainID)
	must(err)
	defer r.Close()
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(err)
		if h.ModTime.After(clamp) {
			t.Errorf("%s: mtime %v after the clamp", h.Name, h.ModTime)
		}
		if len(h.PAXRecords) > 0 && strings.Contains(h.PAXRecords["SCHILY.xattr.trusted.overlay.origin"], "x") {
			t.Errorf("%s keeps overlay's xattr", h.Name)
		}
		names = append(names, h.Name)
	}
	if _, err := io.Copy(io.Discard, r); err != nil { // the diff ID checks at the end
		t.Fatal(err)
	}
	got := strings.Join(names, " ")
	if want := "etc/ etc/a etc/b etc/.wh.gone etc/opq/ etc/opq/.wh..wh..opq"; got != want {
		t.Errorf("tar holds %q, want %q", got, want)
	}
}
