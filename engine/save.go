package engine

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// Save writes images to w as one archive that is both a Docker archive
// (manifest.json, which every `docker load` reads) and an OCI image layout
// (index.json), as Docker 25 writes them. Layers are written uncompressed.
// A repository name without a tag saves every tag of the repository.
func (e *Engine) Save(ctx context.Context, w io.Writer, names []string) error {
	list, err := e.imagesToSave(ctx, names)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	sa := &saveArchive{
		tw:      tar.NewWriter(bw),
		written: map[digest.Digest]bool{},
		index:   v1.Index{Versioned: ocispec.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}},
	}
	for _, s := range list {
		if err := e.saveImage(ctx, sa, s); err != nil {
			return err
		}
	}
	if err := sa.finish(); err != nil {
		return err
	}
	return bw.Flush()
}

// savedImage is an image to save with the tags it is saved under.
type savedImage struct {
	img  store.Image
	tags []image.Reference
}

// imagesToSave resolves the names to images, each once, in the order they
// were first named.
func (e *Engine) imagesToSave(ctx context.Context, names []string) ([]*savedImage, error) {
	var list []*savedImage
	byID := map[digest.Digest]*savedImage{}
	err := e.store.View(ctx, func(tx *store.Tx) error {
		allTags, err := tx.Tags(ctx, "")
		if err != nil {
			return err
		}
		for _, name := range names {
			ids, refs, err := e.resolveSaveName(ctx, tx, allTags, name)
			if err != nil {
				return err
			}
			for i, id := range ids {
				s, ok := byID[id]
				if !ok {
					img, err := tx.Image(ctx, id)
					if err != nil {
						return err
					}
					s = &savedImage{img: img}
					byID[id] = s
					list = append(list, s)
				}
				if refs[i].Tag != "" {
					s.tags = append(s.tags, refs[i])
				}
			}
		}
		return nil
	})
	return list, err
}

// resolveSaveName finds the images a name saves, with the reference each
// is saved under (empty for none): every tag of a repository named
// without a tag, else the one image the name resolves to.
func (e *Engine) resolveSaveName(ctx context.Context, tx *store.Tx, allTags []store.Tag, name string) ([]digest.Digest, []image.Reference, error) {
	var ids []digest.Digest
	var refs []image.Reference
	ref, perr := e.ParseReference(name)
	if perr == nil && ref.Tag == "" && ref.Digest == "" {
		for _, t := range allTags {
			if t.Repo == ref.Name() {
				r, _ := e.ParseReference(t.Ref)
				ids, refs = append(ids, t.ImageID), append(refs, r)
			}
		}
	}
	if len(ids) > 0 {
		return ids, refs, nil
	}
	r, err := e.resolve(ctx, tx, name)
	if err != nil {
		return nil, nil, err
	}
	if r.Ref != nil && r.Ref.Tag != "" {
		return []digest.Digest{r.ID}, []image.Reference{*r.Ref}, nil
	}
	return []digest.Digest{r.ID}, []image.Reference{{}}, nil
}

// saveArchive is the archive Save writes: the blobs written so far, and
// the Docker and OCI manifests listing the images, written at the end.
type saveArchive struct {
	tw        *tar.Writer
	written   map[digest.Digest]bool
	manifests []dockerManifest
	index     v1.Index
}

// saveImage writes an image's config, layers and OCI manifest, each blob
// once, and lists it in both manifests under its tags.
func (e *Engine) saveImage(ctx context.Context, sa *saveArchive, s *savedImage) error {
	cfgRaw, err := e.store.ReadBlob(s.img.ID, maxConfigSize)
	if err != nil {
		return err
	}
	if err := writeTarFile(sa.tw, blobEntry(s.img.ID), cfgRaw, sa.written, s.img.ID); err != nil {
		return err
	}
	m := dockerManifest{Config: blobEntry(s.img.ID), RepoTags: []string{}}
	om := v1.Manifest{Versioned: ocispec.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest,
		Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: s.img.ID, Size: int64(len(cfgRaw))}, Layers: []v1.Descriptor{}}
	for _, l := range s.img.Layers {
		info, err := e.store.Layer(l.ChainID)
		if err != nil {
			return err
		}
		if !sa.written[l.DiffID] {
			if err := e.writeLayer(ctx, sa.tw, l, info.DiffSize); err != nil {
				return err
			}
			sa.written[l.DiffID] = true
		}
		m.Layers = append(m.Layers, blobEntry(l.DiffID))
		om.Layers = append(om.Layers, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: l.DiffID, Size: info.DiffSize})
	}
	omRaw, err := json.Marshal(om)
	if err != nil {
		return err
	}
	omDigest := digest.FromBytes(omRaw)
	if err := writeTarFile(sa.tw, blobEntry(omDigest), omRaw, sa.written, omDigest); err != nil {
		return err
	}
	desc := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: omDigest, Size: int64(len(omRaw))}
	if len(s.tags) == 0 {
		sa.index.Manifests = append(sa.index.Manifests, desc)
	}
	for _, t := range s.tags {
		m.RepoTags = append(m.RepoTags, t.FamiliarString(e.hub))
		d := desc
		d.Annotations = map[string]string{"io.containerd.image.name": t.String(), v1.AnnotationRefName: t.Tag}
		sa.index.Manifests = append(sa.index.Manifests, d)
	}
	sa.manifests = append(sa.manifests, m)
	return nil
}

// finish writes the manifests and the layout marker and closes the tar.
func (sa *saveArchive) finish() error {
	for _, f := range []struct {
		name string
		v    any
	}{{"index.json", sa.index}, {"manifest.json", sa.manifests}, {"oci-layout", v1.ImageLayout{Version: v1.ImageLayoutVersion}}} {
		raw, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := writeTarFile(sa.tw, f.name, raw, nil, ""); err != nil {
			return err
		}
	}
	return sa.tw.Close()
}

func writeTarFile(tw *tar.Writer, name string, data []byte, written map[digest.Digest]bool, d digest.Digest) error {
	if written != nil {
		if written[d] {
			return nil
		}
		written[d] = true
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// writeLayer copies a layer's uncompressed tar into the archive.
func (e *Engine) writeLayer(ctx context.Context, tw *tar.Writer, l store.ImageLayer, size int64) error {
	diffID := l.DiffID
	r, err := e.OpenLayer(ctx, l.ChainID, diffID)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := tw.WriteHeader(&tar.Header{Name: blobEntry(diffID), Mode: 0o444, Size: size, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	h := diffID.Algorithm().Digester()
	n, err := io.Copy(io.MultiWriter(tw, h.Hash()), &ctxReader{ctx: ctx, r: r})
	if err != nil {
		return fmt.Errorf("writing layer %s: %w", diffID, err)
	}
	if n != size || h.Digest() != diffID {
		return fmt.Errorf("layer %s in the store reads back as %d bytes hashing to %s: %w", diffID, n, h.Digest(), errdefs.ErrDigestMismatch)
	}
	return nil
}

// OpenLayer opens a layer's uncompressed tar stream: a blob kept
// uncompressed as it is, else the tar regenerated from the layer's files
// and tar-split record (which reads less than decompressing), else a
// compressed blob decompressed.
func (e *Engine) OpenLayer(ctx context.Context, chainID, diffID digest.Digest) (io.ReadCloser, error) {
	var blobs []store.LayerBlob
	err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		blobs, err = tx.LayerBlobs(ctx, diffID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if f, err := e.store.OpenBlob(diffID); err == nil {
		return f, nil
	}
	if r, err := e.store.OpenLayerTar(ctx, chainID); err == nil || !errors.Is(err, errdefs.ErrNotFound) {
		return r, err
	}
	for _, lb := range blobs {
		if lb.Registry != "" || lb.Blob == diffID {
			continue
		}
		f, err := e.store.OpenBlob(lb.Blob)
		if err != nil {
			continue
		}
		c, err := image.LayerCompression(lb.MediaType)
		if err != nil {
			f.Close()
			return nil, err
		}
		dec, err := archive.Decompress(bufio.NewReaderSize(f, 1<<20), c)
		if err != nil {
			f.Close()
			return nil, err
		}
		return &layerReader{ReadCloser: dec, f: f}, nil
	}
	return nil, fmt.Errorf("no blob in the store holds layer %s, and its files cannot give it back: %w", diffID, errdefs.ErrNotFound)
}

type layerReader struct {
	io.ReadCloser
	f *os.File
}

func (l *layerReader) Close() error {
	l.ReadCloser.Close()
	return l.f.Close()
}
