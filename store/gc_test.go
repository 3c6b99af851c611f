package store

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/testimage"
)

// putTestImage stores an image of the given layers, tagged ref.
func putTestImage(t *testing.T, s *Store, ref string, layers ...[]byte) Image {
	t.Helper()
	ctx := context.Background()
	cfg := testimage.Config([]string{"sh"}, layers...)
	id, err := s.WriteBlob(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	img := Image{ID: id, Platform: "linux/amd64"}
	var parent digest.Digest
	for _, l := range layers {
		res, err := s.Unpack(ctx, bytes.NewReader(l), Unpack{DiffID: digest.FromBytes(l), Parent: parent, KeepBlob: true, Size: -1})
		if err != nil {
			t.Fatal(err)
		}
		parent = res.Layer.ChainID
		img.Layers = append(img.Layers, ImageLayer{DiffID: res.Layer.DiffID, ChainID: res.Layer.ChainID, Size: res.Layer.Size})
		img.Size += res.Layer.Size
		err = s.Update(ctx, func(tx *Tx) error {
			return tx.AddLayerBlob(ctx, LayerBlob{DiffID: res.Layer.DiffID, Blob: res.Blob, MediaType: "application/vnd.oci.image.layer.v1.tar", Size: int64(len(l))})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutImage(ctx, img); err != nil {
			return err
		}
		if ref != "" {
			_, err := tx.SetTag(ctx, Tag{Ref: ref, Repo: ref, Tag: "latest", ImageID: id})
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestSweepKeepsWhatRootsReach(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	base := testimage.RandomTar(1, 3, 100)
	a := putTestImage(t, s, "a", base, testimage.RandomTar(2, 3, 100))
	b := putTestImage(t, s, "b", base, testimage.RandomTar(3, 3, 100))

	res, err := s.Collect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layers) != 0 || len(res.Blobs) != 0 {
		t.Fatalf("sweep of a store where everything is reachable removed %+v", res)
	}

	// Remove a: its own layer and blobs go, the shared base stays.
	res, err = s.Collect(ctx, func(tx *Tx) error {
		if err := tx.RemoveTag(ctx, "a"); err != nil {
			return err
		}
		return tx.DeleteImage(ctx, a.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layers) != 1 || res.Layers[0].ChainID != a.Layers[1].ChainID {
		t.Fatalf("removed layers %+v, want only %s", res.Layers, a.Layers[1].ChainID)
	}
	if len(res.Blobs) != 2 { // config and top layer blob
		t.Fatalf("removed blobs %v", res.Blobs)
	}
	if !s.HasLayer(b.Layers[0].ChainID) || !s.HasLayer(b.Layers[1].ChainID) || !s.HasBlob(b.ID) {
		t.Fatal("b lost content")
	}
	if entries, _ := os.ReadDir(filepath.Join(s.root, trashDir)); len(entries) != 0 {
		t.Errorf("trash not emptied: %v", entries)
	}
	report, err := s.Check(ctx, nil)
	if err != nil || len(report.Problems) != 0 {
		t.Fatalf("check after sweep: %v %v", report.Problems, err)
	}
}

func TestContainersAndLeasesAreRoots(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	img := putTestImage(t, s, "", testimage.RandomTar(4, 2, 10))
	err := s.Update(ctx, func(tx *Tx) error {
		return tx.AddContainer(ctx, ContainerRef{ID: "c1", Name: "n1", ImageID: img.ID, ImageRef: "x", Layers: []digest.Digest{img.Layers[0].ChainID}})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The image goes, the container keeps its layer.
	if _, err := s.Collect(ctx, func(tx *Tx) error { return tx.DeleteImage(ctx, img.ID) }); err != nil {
		t.Fatal(err)
	}
	if !s.HasLayer(img.Layers[0].ChainID) {
		t.Fatal("a container's layer was swept")
	}
	if s.HasBlob(img.ID) {
		t.Fatal("the deleted image's config survived")
	}

	// A lease keeps an unrooted blob; once released it goes.
	lease, err := s.NewLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("leased")
	if have, _, err := lease.Acquire(ctx, []digest.Digest{d}, nil); err != nil || have[d] {
		t.Fatalf("Acquire: %v %v", have, err)
	}
	if _, err := s.WriteBlob(ctx, []byte("leased")); err != nil {
		t.Fatal(err)
	}
	s.Collect(ctx, nil)
	if !s.HasBlob(d) {
		t.Fatal("a leased blob was swept")
	}
	lease.Release(ctx)
	s.Collect(ctx, nil)
	if s.HasBlob(d) {
		t.Fatal("a released blob survived")
	}

	// A lease of a dead process is no lease.
	cmd := exec.Command("true")
	cmd.Run()
	err = s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO leases (id, pid, pid_start, expires) VALUES ('dead', ?, 1, 9e18)`, cmd.Process.Pid); err != nil {
			return err
		}
		return tx.hold(ctx, "dead", "blob", digest.FromString("orphan"))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.WriteBlob(ctx, []byte("orphan"))
	s.Collect(ctx, nil)
	if s.HasBlob(digest.FromString("orphan")) {
		t.Fatal("a dead process's lease kept its blob")
	}

	if err := s.Update(ctx, func(tx *Tx) error { return tx.RemoveContainer(ctx, "c1") }); err != nil {
		t.Fatal(err)
	}
	res, _ := s.Collect(ctx, nil)
	if len(res.Layers) != 1 || s.HasLayer(img.Layers[0].ChainID) {
		t.Fatalf("container's layer not removed with it: %+v", res)
	}
}

func TestPutImageRefusesMissingContent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	cfg := testimage.Config(nil, testimage.RandomTar(5, 1, 1))
	id, _ := s.WriteBlob(ctx, cfg)
	c, _ := image.ParseConfig(cfg)
	err := s.Update(ctx, func(tx *Tx) error {
		return tx.PutImage(ctx, Image{ID: id, Layers: []ImageLayer{{DiffID: c.RootFS.DiffIDs[0], ChainID: c.RootFS.DiffIDs[0]}}})
	})
	if err == nil {
		t.Fatal("recorded an image whose layer is missing")
	}
}

func TestCheckFindsCorruption(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	img := putTestImage(t, s, "x", testimage.RandomTar(6, 2, 50))
	if r, err := s.Check(ctx, nil); err != nil || len(r.Problems) != 0 || r.Images != 1 {
		t.Fatalf("clean store: %+v %v", r, err)
	}
	// A changed byte in a blob, a file added to a layer.
	p := s.blobPath(img.ID)
	os.Chmod(p, 0o644)
	b, _ := os.ReadFile(p)
	b[0] ^= 1
	os.WriteFile(p, b, 0o444)
	os.WriteFile(filepath.Join(s.LayerDir(img.Layers[0].ChainID), "extra"), []byte("x"), 0o644)
	r, err := s.Check(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) < 2 {
		t.Fatalf("problems %v, want the blob and the layer", r.Problems)
	}
}
