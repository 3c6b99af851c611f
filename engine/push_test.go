package engine

import (
	"context"
	"errors"
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/registry/client"
)

func TestPushCompressesMountsAndSkips(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{Auth: true})
	h.AddUser(t, "alice", "secret")
	alice := client.New(client.Options{Credentials: creds{h.Host: {"alice", "secret"}}, ChunkSize: 64 << 10})
	e := openEngine(t)
	archive, _, _, _ := twoImages()
	load(t, e, archive)
	target := h.Host + "/alice/app:v1"
	if err := e.Tag(ctx, "alpha:1", target); err != nil {
		t.Fatal(err)
	}
	src, err := e.Resolve(ctx, "alpha:1")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := e.Push(ctx, target, PushOptions{}); !errors.Is(err, errdefs.ErrUnauthorized) && !errors.Is(err, errdefs.ErrDenied) {
		t.Fatalf("anonymous push: %v", err)
	}
	var rec recorder
	pushed, err := e.Push(ctx, target, PushOptions{Registry: alice, Progress: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed) != 1 || pushed[0].Tag != "v1" {
		t.Fatalf("pushed %+v", pushed)
	}
	cfg, _ := e.Config(src.ID)
	for _, d := range cfg.RootFS.DiffIDs {
		got := rec.statuses(image.ShortID(d))
		if got[0] != "Preparing" || got[len(got)-1] != "Pushed" || !slices.Contains(got, "Pushing") {
			t.Errorf("layer %s statuses %v", d, got)
		}
	}
	if got := rec.statuses(""); got[0] != "The push refers to repository ["+h.Host+"/alice/app]" ||
		got[1] != "v1: digest: "+pushed[0].Digest.String()+" size: "+itoa(int64(pushed[0].Size)) {
		t.Errorf("messages %q", got)
	}
	// The registry holds gzip layers that pull back into the same image.
	m, err := alice.Repository(h.Host, "alice/app").Manifest(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.Parse()
	for _, l := range p.Manifest.Layers {
		if l.MediaType != ocispec.MediaTypeImageLayerGzip {
			t.Errorf("pushed layer %s is %s", l.Digest, l.MediaType)
		}
	}
	e2 := openEngine(t)
	res, err := e2.Pull(ctx, target, PullOptions{Registry: alice})
	if err != nil || res.ID != src.ID {
		t.Fatalf("pull back: %+v %v, want image %s", res, err, src.ID)
	}
	checkStore(t, e2)

	// Again: the compressed digests are remembered, nothing is uploaded.
	var again recorder
	pushed2, err := e.Push(ctx, target, PushOptions{Registry: alice, Progress: again.add})
	if err != nil || pushed2[0].Digest != pushed[0].Digest {
		t.Fatalf("second push: %+v %v, want digest %s", pushed2, err, pushed[0].Digest)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if got := again.statuses(image.ShortID(d)); got[len(got)-1] != "Layer already exists" {
			t.Errorf("second push of %s: %v", d, got)
		}
	}
	// To another repository of the hub: mounted.
	other := h.Host + "/alice/other:v1"
	if err := e.Tag(ctx, "alpha:1", other); err != nil {
		t.Fatal(err)
	}
	var mount recorder
	pushed3, err := e.Push(ctx, other, PushOptions{Registry: alice, Progress: mount.add})
	if err != nil || pushed3[0].Digest != pushed[0].Digest {
		t.Fatalf("push to another repository: %+v %v", pushed3, err)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if got := mount.statuses(image.ShortID(d)); got[len(got)-1] != "Mounted from alice/app" {
			t.Errorf("mount of %s: %v", d, got)
		}
	}

	// A pulled image pushed unchanged elsewhere on the hub keeps its digest.
	third := h.Host + "/alice/third:x"
	if err := e2.Tag(ctx, target, third); err != nil {
		t.Fatal(err)
	}
	pushed4, err := e2.Push(ctx, third, PushOptions{Registry: alice})
	if err != nil || pushed4[0].Digest != res.Digest {
		t.Fatalf("pulled image pushed back: %+v %v, want %s", pushed4, err, res.Digest)
	}
	// All tags of a repository.
	if err := e.Tag(ctx, "bravo", h.Host+"/alice/app:v2"); err != nil {
		t.Fatal(err)
	}
	all, err := e.Push(ctx, h.Host+"/alice/app", PushOptions{Registry: alice, AllTags: true})
	if err != nil || len(all) != 2 || all[0].Tag != "v1" || all[1].Tag != "v2" {
		t.Fatalf("all tags: %+v %v", all, err)
	}
	checkStore(t, e)

	if _, err := e.Push(ctx, h.Host+"/alice/none:v1", PushOptions{Registry: alice}); !errors.Is(err, errdefs.ErrNotFound) ||
		err.Error() != "An image does not exist locally with the tag: "+h.Host+"/alice/none" {
		t.Fatalf("push of a missing tag: %v", err)
	}
}
