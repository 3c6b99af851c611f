package cache_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/cache"
)

// TestBlobsDeleteDropsCached: a blob deleted through the wrapper is no
// longer served from memory.
func TestBlobsDeleteDropsCached(t *testing.T) {
	ctx := context.Background()
	fs, err := blobs.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := cache.NewBlobs(fs, 1<<20)
	d := digest.FromString("small")
	if _, err := b.Put(ctx, d, strings.NewReader("small")); err != nil {
		t.Fatal(err)
	}
	b.Keep(d, []byte("small"))
	if got, ok := b.Cached(d); !ok || string(got) != "small" {
		t.Fatalf("Cached = %q, %v", got, ok)
	}
	if err := b.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Cached(d); ok {
		t.Fatal("a deleted blob is still cached")
	}
}
