package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/registrytest"
)

// TestDistributionRegistry runs push, pull, mount, tags and referrers
// against the real distribution registry behind htpasswd Basic auth.
func TestDistributionRegistry(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Users: map[string]string{"bob": "hunter2"}})
	ctx := context.Background()
	c := New(Options{Credentials: creds{reg.Host: {"bob", "hunter2"}}, ChunkSize: 64 << 10})
	repo := c.Repository(reg.Host, "bob/app", "pull", "push")

	if err := c.Login(ctx, reg.Host, "bob", "hunter2"); err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := New(Options{}).Login(ctx, reg.Host, "bob", "wrong"); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("login with a wrong password: %v", err)
	}

	// A streamed, chunked upload (the path compressed layers take).
	layer := make([]byte, 300<<10)
	rand.Read(layer)
	ld := digest.FromBytes(layer)
	up, err := repo.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(up, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(ld); err != nil {
		t.Fatal(err)
	}
	// A file-backed upload in one streamed PATCH.
	big := make([]byte, 2<<20)
	rand.Read(big)
	bd := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(big), Size: int64(len(big))}
	if err := repo.PushBlob(ctx, bd, nil, func(off int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(big[off:])), nil }, nil); err != nil {
		t.Fatal(err)
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	if err := repo.PushBlob(ctx, cd, nil, func(int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cfg)), nil }, nil); err != nil {
		t.Fatal(err)
	}
	man := []byte(`{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageManifest + `","config":{"mediaType":"` + cd.MediaType + `","digest":"` + cd.Digest.String() + `","size":` + itoa(cd.Size) +
		`},"layers":[{"mediaType":"` + ocispec.MediaTypeImageLayer + `","digest":"` + ld.String() + `","size":` + itoa(int64(len(layer))) + `},{"mediaType":"` + ocispec.MediaTypeImageLayer + `","digest":"` + bd.Digest.String() + `","size":` + itoa(bd.Size) + `}]}`)
	md, err := repo.PutManifest(ctx, "v1", ocispec.MediaTypeImageManifest, man)
	if err != nil {
		t.Fatal(err)
	}

	// Pull it back, by tag and by digest, with another client.
	puller := New(Options{Credentials: creds{reg.Host: {"bob", "hunter2"}}}).Repository(reg.Host, "bob/app")
	m, err := puller.Manifest(ctx, "v1")
	if err != nil || m.Digest != md || !bytes.Equal(m.Raw, man) {
		t.Fatalf("manifest by tag: %v %v", m.Digest, err)
	}
	if _, err := puller.Manifest(ctx, md.String()); err != nil {
		t.Fatalf("manifest by digest: %v", err)
	}
	if got := readBlob(t, puller, ocispec.Descriptor{Digest: ld, Size: int64(len(layer))}); !bytes.Equal(got, layer) {
		t.Fatal("layer differs")
	}
	rc, err := puller.OpenBlob(ctx, bd, 12345)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(rest, big[12345:]) {
		t.Fatal("ranged read differs")
	}

	other := c.Repository(reg.Host, "bob/other", "pull", "push")
	mounted, _, err := other.Mount(ctx, bd.Digest, "bob/app")
	if err != nil || !mounted {
		t.Fatalf("mount: %v %v", mounted, err)
	}
	tags, err := repo.Tags(ctx)
	if err != nil || strings.Join(tags, ",") != "v1" {
		t.Fatalf("tags: %v %v", tags, err)
	}
	// No referrers API here: the fallback tag is asked, and missing means none.
	refs, err := repo.Referrers(ctx, md, "")
	if err != nil || len(refs) != 0 {
		t.Fatalf("referrers: %v %v", refs, err)
	}

	anon := New(Options{}).Repository(reg.Host, "bob/app")
	if _, err := anon.Manifest(ctx, "v1"); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("anonymous pull from a Basic-auth registry: %v", err)
	}
}
