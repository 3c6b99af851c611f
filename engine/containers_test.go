package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/store"
)

func imageContainers(t *testing.T, e *Engine, tag string) int {
	t.Helper()
	imgs, err := e.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		for _, rt := range img.RepoTags {
			if rt == tag {
				return img.Containers
			}
		}
	}
	t.Fatalf("no image %s", tag)
	return 0
}

func refIDs(t *testing.T, e *Engine) []string {
	t.Helper()
	var ids []string
	err := e.store.View(context.Background(), func(tx *store.Tx) error {
		refs, err := tx.Containers(context.Background(), "")
		for _, r := range refs {
			ids = append(ids, r.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// The store's refs follow the runtime's containers both ways, and a ref
// being made (held by a live lease) is left alone.
func TestContainerRefsFollowTheRuntime(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	archive, _, _, _ := twoImages()
	load(t, e, archive)
	id := addContainer(t, e, "bravo")
	if got := refIDs(t, e); len(got) != 1 || got[0] != id {
		t.Fatalf("refs after create: %v", got)
	}
	if n := imageContainers(t, e, "bravo:latest"); n != 1 {
		t.Fatalf("bravo's containers: %d", n)
	}
	if _, err := e.Remove(ctx, "bravo", false); !errdefs.IsConflict(err) {
		t.Fatalf("rmi of an image in use: %v", err)
	}

	// The runtime removes the container by itself (an --rm container's
	// shim does): the ref goes at the next listing, and so does the image.
	m, err := e.runtime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, id, ctr.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := imageContainers(t, e, "bravo:latest"); n != 0 {
		t.Fatalf("bravo's containers after the runtime removed it: %d", n)
	}
	if _, err := e.Remove(ctx, "bravo", false); err != nil {
		t.Fatalf("rmi after the container went: %v", err)
	}

	// A runtime container without a ref is adopted: its layers are kept.
	r, _ := e.Resolve(ctx, "alpha:1")
	var dirs []string
	e.store.View(ctx, func(tx *store.Tx) error {
		rec, err := tx.Image(ctx, r.ID)
		for _, l := range rec.Layers {
			dirs = append(dirs, e.store.LayerDir(l.ChainID))
		}
		return err
	})
	orphan, err := m.Create(ctx, ctr.CreateOptions{Image: "alpha:1", ImageID: r.ID.String(), Layers: dirs, Cmd: []string{"sh"}, Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if got := refIDs(t, e); len(got) != 0 {
		t.Fatalf("refs before the sync: %v", got)
	}
	if err := e.SyncContainers(ctx); err != nil {
		t.Fatal(err)
	}
	if got := refIDs(t, e); len(got) != 1 || got[0] != orphan.ID {
		t.Fatalf("refs after adopting: %v", got)
	}
	e.Remove(ctx, "alpha:latest", false)
	if _, err := e.Remove(ctx, "alpha:1", false); err == nil || !strings.Contains(err.Error(), orphan.ID[:12]) {
		t.Fatalf("rmi of the adopted container's image: %v", err)
	}

	// A ref whose container is still being made elsewhere stays while the
	// maker's lease lives.
	lease, err := e.store.NewLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pending := strings.Repeat("ab", 32)
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.HoldContainer(ctx, lease, pending); err != nil {
			return err
		}
		return tx.AddContainer(ctx, store.ContainerRef{ID: pending, Name: pending, ImageID: r.ID, ImageRef: "alpha:1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.SyncContainers(ctx)
	if got := refIDs(t, e); len(got) != 2 {
		t.Fatalf("a held ref was forgotten: %v", got)
	}
	lease.Release(ctx)
	e.SyncContainers(ctx)
	if got := refIDs(t, e); len(got) != 1 || got[0] != orphan.ID {
		t.Fatalf("refs after the lease ended: %v", got)
	}

	// rm removes both records and sweeps the layers nothing else keeps.
	if _, err := e.Remove(ctx, r.ID.Encoded(), true); err != nil {
		t.Fatalf("rmi -f ID with a stopped container: %v", err)
	}
	if _, err := e.RemoveContainer(ctx, orphan.Name, ctr.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := refIDs(t, e); len(got) != 0 {
		t.Fatalf("refs after rm: %v", got)
	}
	rep, err := e.Check(ctx, nil)
	if err != nil || len(rep.Problems) > 0 || rep.Layers != 0 {
		t.Fatalf("check after rm: %+v %v", rep, err)
	}
}

// A container whose creation fails leaves no ref behind.
func TestFailedCreateLeavesNoRef(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	archive, _, _, _ := twoImages()
	load(t, e, archive)
	if _, err := e.CreateContainer(ctx, ctr.CreateOptions{Image: "bravo", Network: "nope"}); err == nil {
		t.Fatal("create with an unknown network worked")
	}
	if got := refIDs(t, e); len(got) != 0 {
		t.Fatalf("refs after a failed create: %v", got)
	}
	if _, err := e.CreateContainer(ctx, ctr.CreateOptions{Image: "nosuch"}); !errdefs.IsNotFound(err) {
		t.Fatalf("create of a missing image: %v", err)
	}
}
