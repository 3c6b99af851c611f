package store

import (
	"bytes"
	"context"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/internal/testimage"
)

// TestCheckAcceptsAnOrphanLayerFromAKilledPull: layers are unpacked in
// parallel and each committed when verified, so a pull killed in between
// leaves a layer whose parent never arrived. No image uses it: the store is
// consistent, and the next sweep removes it.
func TestCheckAcceptsAnOrphanLayerFromAKilledPull(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	layer := testimage.Tar(testimage.File{Name: "top", Body: "child"})
	parent := digest.FromString("a parent layer that never arrived")
	if _, err := s.Unpack(ctx, bytes.NewReader(layer), Unpack{Size: int64(len(layer)), Parent: parent, KeepBlob: true}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || rep.UnreferencedLayers != 1 {
		t.Fatalf("check: %+v", rep)
	}
	res, err := s.Collect(ctx, nil)
	if err != nil || len(res.Layers) != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
}
