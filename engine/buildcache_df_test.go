package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/internal/testimage"
)

// DiskUsage lists the build cache: each record's layer sized once and
// only when no image holds it, config-only records at nothing, the cache
// mounts by their files; builder prune -a leaves nothing.
func TestDiskUsageBuildCache(t *testing.T) {
	ctx := context.Background()
	base := testimage.Tar(testimage.File{Name: "base", Body: "from the image"})
	e := openEngine(t)
	load(t, e, testimage.DockerArchive(testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, base), Layers: [][]byte{base}, Tags: []string{"base:1"}}))
	sess, err := e.NewBuildSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(ctx)
	from, err := sess.Base(ctx, "base:1", false)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := sess.NewDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "made"), make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	made, err := sess.CommitDir(ctx, dir, from.Layers[0].ChainID, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, l := range []BuildLayer{from.Layers[0], made, made, {}} {
		if err := sess.Remember(digest.FromString(string(rune('a'+i))), l, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	mount := filepath.Join(sess.CacheDir(), "mounts", "m1")
	if err := os.MkdirAll(filepath.Join(mount, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mount, "sub", "f"), make([]byte, 700), 0o644); err != nil {
		t.Fatal(err)
	}
	du, err := e.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total, shared, mounts int64
	for _, c := range du.BuildCache {
		if c.Shared {
			shared++
		} else {
			total += c.Size
		}
		if c.Type == "exec.cachemount" {
			mounts++
		}
	}
	// The image's layer and the second record of made are shared.
	if len(du.BuildCache) != 5 || shared != 2 || mounts != 1 || total != made.Size+700 {
		t.Errorf("build cache %+v: want 5 entries, 2 shared, %d bytes", du.BuildCache, made.Size+700)
	}
	if _, err := e.PruneBuildCache(ctx, true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if du, err = e.DiskUsage(ctx); err != nil || len(du.BuildCache) != 0 {
		t.Errorf("after builder prune -a: %+v, %v", du.BuildCache, err)
	}
}
