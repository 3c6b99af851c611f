package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/internal/testimage"
)

// TestOneSyncfsPerCommand: layers and blobs committed are made durable by
// the one syncfs of the Update that follows them; an Update with nothing
// new pays none, and one after content found present pays one.
func TestOneSyncfsPerCommand(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	noop := func(*Tx) error { return nil }
	for i := range 3 {
		tarball := testimage.RandomTar(int64(i), 3, 1000)
		if _, err := s.Unpack(ctx, bytes.NewReader(tarball), Unpack{Size: -1, DiffID: digest.FromBytes(tarball)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.WriteBlob(ctx, []byte("a config")); err != nil {
		t.Fatal(err)
	}
	if n := s.syncs.Load(); n != 0 {
		t.Fatalf("%d syncfs before the metadata commit, want 0", n)
	}
	if err := s.Update(ctx, noop); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, noop); err != nil {
		t.Fatal(err)
	}
	if n := s.syncs.Load(); n != 1 {
		t.Fatalf("%d syncfs for three layers, a blob and two Updates, want 1", n)
	}
	s.HasBlob(digest.FromBytes([]byte("a config")))
	if err := s.Update(ctx, noop); err != nil {
		t.Fatal(err)
	}
	if n := s.syncs.Load(); n != 2 {
		t.Fatalf("%d syncfs after reusing a blob, want 2", n)
	}
}

// TestRebootSweepsUnsyncedContent: content renamed in without a syncfs in
// a boot that ended is swept by the first Open of the next boot, as a power
// cut may have torn it; in the same boot it stays.
func TestRebootSweepsUnsyncedContent(t *testing.T) {
	ctx := context.Background()
	boot := filepath.Join(t.TempDir(), "boot_id")
	old := bootIDPath
	bootIDPath = boot
	t.Cleanup(func() { bootIDPath = old })
	if err := os.WriteFile(boot, []byte("first-boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s, err := Open(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	tarball := testimage.RandomTar(7, 3, 1000)
	diffID := digest.FromBytes(tarball)
	if _, err := s.Unpack(ctx, bytes.NewReader(tarball), Unpack{Size: -1, DiffID: diffID}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(root, unsyncedDir, "first-boot")); err != nil {
		t.Fatalf("no marker of the boot: %v", err)
	}
	s = openStore(t, root) // the same boot: the layer stays
	if !s.HasLayer(diffID) {
		t.Fatal("the layer was swept within its boot")
	}
	s.Close()
	if err := os.WriteFile(boot, []byte("second-boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, root)
	if s.HasLayer(diffID) {
		t.Fatal("a layer never synced survived a reboot")
	}
	if _, err := os.Stat(filepath.Join(root, unsyncedDir, "first-boot")); !os.IsNotExist(err) {
		t.Fatalf("the last boot's marker is still there: %v", err)
	}
}
