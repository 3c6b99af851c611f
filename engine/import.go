package engine

import (
	"bufio"
	"compress/bzip2"
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// ImportOptions configure Import.
type ImportOptions struct {
	Ref      string   // name to tag the image with, "" for none
	Changes  []string // Dockerfile instructions applied to the config
	Message  string   // the history comment; default "Imported from " + Source
	Source   string   // "-" for a stream
	Platform ocispec.Platform
}

// Import makes a one-layer image from a root filesystem tarball, as
// `docker import`. The tarball may be gzip, zstd or bzip2 compressed.
func (e *Engine) Import(ctx context.Context, r io.Reader, opts ImportOptions) (digest.Digest, error) {
	var ref image.Reference
	if opts.Ref != "" {
		var err error
		if ref, err = e.ParseReference(opts.Ref); err != nil {
			return "", err
		}
		ref = ref.WithDefaultTag()
	}
	var cc image.ContainerConfig
	if err := image.ApplyChanges(&cc, opts.Changes); err != nil {
		return "", err
	}
	if opts.Source == "" {
		opts.Source = "-"
	}
	if opts.Message == "" {
		opts.Message = "Imported from " + opts.Source
	}
	if opts.Platform.OS == "" {
		opts.Platform = image.DefaultPlatform()
	}

	br := bufio.NewReaderSize(r, 1<<20)
	var src io.Reader = br
	mediaType := "" // sniffed by Unpack
	if head, _ := br.Peek(3); string(head) == "BZh" {
		// bzip2 is not a layer format: store the plain tar.
		src, mediaType = bzip2.NewReader(br), ocispec.MediaTypeImageLayer
	}
	lease, err := e.store.NewLease(ctx)
	if err != nil {
		return "", err
	}
	defer lease.Release(ctx)
	res, err := e.store.Unpack(ctx, src, store.Unpack{MediaType: mediaType, Size: -1, BlobIfLossy: true})
	if err != nil {
		return "", err
	}
	if _, _, err := lease.Acquire(ctx, []digest.Digest{res.Blob}, []digest.Digest{res.Layer.ChainID}); err != nil {
		return "", err
	}

	now := time.Now().UTC()
	cfg := image.Config{
		Created:       &now,
		Architecture:  opts.Platform.Architecture,
		Variant:       opts.Platform.Variant,
		OS:            opts.Platform.OS,
		Config:        &cc,
		DockerVersion: "berth",
		Comment:       opts.Message,
		RootFS:        image.RootFS{Type: "layers", DiffIDs: []digest.Digest{res.Layer.DiffID}},
		History:       []image.History{{Created: &now, Comment: opts.Message}},
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	id, err := e.store.WriteBlob(ctx, raw)
	if err != nil {
		return "", err
	}
	layerMT := LayerMediaType(res.Compression)
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.AddLayerBlob(ctx, store.LayerBlob{DiffID: res.Layer.DiffID, Blob: res.Blob, MediaType: layerMT, Size: res.BlobSize}); err != nil {
			return err
		}
		img := store.Image{ID: id, Created: now, Size: res.Layer.Size, Platform: image.FormatPlatform(opts.Platform),
			Layers: []store.ImageLayer{{DiffID: res.Layer.DiffID, ChainID: res.Layer.ChainID, Size: res.Layer.Size}}}
		if err := tx.PutImage(ctx, img); err != nil {
			return err
		}
		if opts.Ref != "" {
			_, err := tx.SetTag(ctx, store.Tag{Ref: ref.String(), Repo: ref.Name(), Tag: ref.Tag, ImageID: id})
			return err
		}
		return nil
	})
	return id, err
}
