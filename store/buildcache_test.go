package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// A build cache record keeps its layer through a sweep, as a root does;
// builder prune drops it (not before its until), and the sweep takes the
// layer.
func TestBuildCacheIsARoot(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	dir := filepath.Join(s.Root(), "tmp", "layer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := s.CommitDir(ctx, dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	key := digest.FromString("step")
	if err := s.PutBuildCache(key, info.ChainID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collect(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if c, _, ok := s.BuildCache(key); !ok || c != info.ChainID {
		t.Fatalf("after a sweep: %s %v", c, ok)
	}
	if _, err := s.PruneBuildCache(ctx, true, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.BuildCache(key); !ok {
		t.Fatal("a record newer than until was pruned")
	}
	res, err := s.PruneBuildCache(ctx, true, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.BuildCache(key); ok || s.HasLayer(info.ChainID) || len(res.Layers) != 1 {
		t.Errorf("after prune -a: record %v, layer %v, swept %v", ok, s.HasLayer(info.ChainID), res.Layers)
	}
}
