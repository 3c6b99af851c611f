package store

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/testimage"
)

// bigSparseLayer is a gzipped tar of one sparse file of size bytes: a few
// hundred bytes that unpack to size.
func bigSparseLayer(t *testing.T, size int64) []byte {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("SKIPPED: no GNU tar to write a sparse layer")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "holes"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "holes"), size); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sparse.tar")
	if b, err := exec.Command("tar", "--sparse", "--format=gnu", "-C", dir, "-cf", out, "holes").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: tar --sparse: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return testimage.Gzip(b)
}

func unpackBlob(s *Store, blob []byte, b *Budget) error {
	_, err := s.Unpack(context.Background(), bytes.NewReader(blob), Unpack{Blob: digest.FromBytes(blob), Size: int64(len(blob)), KeepBlob: true, Budget: b})
	return err
}

// checkRefused: the error is one line that says what would not fit first,
// and nothing of the layer was kept.
func checkRefused(t *testing.T, s *Store, err error, want string, kind error) {
	t.Helper()
	if err == nil {
		t.Fatal("a layer too big was unpacked")
	}
	t.Logf("error: %v", err)
	if !strings.HasPrefix(err.Error(), "layer sha256:") || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("the error does not lead with what would not fit (%q): %v", want, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("the error is not %v: %v", kind, err)
	}
	if layers, _ := os.ReadDir(filepath.Join(s.root, layersDir)); len(layers) != 1 { // tmp/
		t.Errorf("layers left: %v", layers)
	}
}

// TestUnpackRefusesMoreThanFree: a 150-byte layer of a 300 MB sparse file
// into a store with 16 MB free is refused before it is written, with what
// it would take and what is free (issue 16, finding 4).
func TestUnpackRefusesMoreThanFree(t *testing.T) {
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("SKIPPED: mounting a tmpfs needs root: %v", err)
	}
	defer unix.Unmount(root, unix.MNT_DETACH)
	s := openStore(t, root)
	blob := bigSparseLayer(t, 300<<20)
	t.Logf("the layer blob: %d bytes", len(blob))
	err := unpackBlob(s, blob, nil)
	checkRefused(t, s, err, "would unpack to 315MB, more than the ", syscall.ENOSPC)
	if !regexp.MustCompile(`more than the 1[0-9.]+MB free in ` + regexp.QuoteMeta(root) + `$`).MatchString(err.Error()) {
		t.Errorf("the error does not say what is free where: %v", err)
	}
}

// TestUnpackCaps: the per-layer cap refuses one layer that expands past
// it, the per-pull cap refuses the layer that takes a pull past it; layers
// under both unpack.
func TestUnpackCaps(t *testing.T) {
	s := openStore(t, t.TempDir())
	s.SetLimits(Limits{LayerBytes: 100 << 20, PullBytes: 250 << 20})
	// An exabyte file, as a tar may declare: refused from its header alone.
	var hb bytes.Buffer
	tw := tar.NewWriter(&hb)
	if err := tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 60}); err != nil {
		t.Fatal(err)
	}
	_ = tw.Flush() // the header only: what follows is never read
	huge := hb.Bytes()
	err := unpackBlob(s, huge, nil)
	checkRefused(t, s, err, "would unpack to 1.15EB, more than the 105MB a layer may unpack to", errdefs.ErrInvalid)

	b, err := s.NewBudget()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := unpackBlob(s, bigSparseLayer(t, 90<<20+int64(i)), b); err != nil {
			t.Fatalf("layer %d under both caps: %v", i, err)
		}
	}
	err = unpackBlob(s, bigSparseLayer(t, 90<<20+2), b)
	if err == nil {
		t.Fatal("a third layer past the pull's cap was unpacked")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "more than the 262MB a pull may unpack to") || !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("the pull's cap: %v", err)
	}
}
