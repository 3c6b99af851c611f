// Package archive opens images saved outside the store as lists of layers
// for the inventory: `docker save` tarballs (docker-archive, both the
// classic layout and the OCI layout Docker 25+ writes) and OCI image layout
// directories. The bench driver and tests use it; the engine hands the
// inventory its own layers.
package archive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/sbom"
)

// Image is an opened image; Close releases its file.
type Image struct {
	Layers []sbom.Layer
	Config ocispec.Image
	// Name is the first tag the archive records, if any.
	Name   string
	closer io.Closer
}

// Close releases the archive.
func (i *Image) Close() error {
	if i.closer != nil {
		return i.closer.Close()
	}
	return nil
}

// Open opens a docker-archive tar file or an OCI layout directory.
func Open(p string) (*Image, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return openLayout(p)
	}
	return openTar(p)
}

// fileSystem is what both formats are read through: a directory, or the
// index of a tar file.
type fileSystem interface {
	readFile(name string) ([]byte, error)
	open(name string) (io.ReadCloser, error)
}

type layer struct {
	diffID digest.Digest
	fs     fileSystem
	name   string
}

func (l *layer) DiffID() digest.Digest { return l.diffID }

func (l *layer) Open(context.Context) (io.ReadCloser, error) { return l.fs.open(l.name) }

type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// fromDockerManifest reads manifest.json, which both docker save layouts have.
func fromDockerManifest(fsys fileSystem) (*Image, error) {
	b, err := fsys.readFile("manifest.json")
	if err != nil {
		return nil, err
	}
	var ms []dockerManifest
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %v: %w", err, errdefs.ErrInvalid)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("manifest.json lists no image: %w", errdefs.ErrInvalid)
	}
	m := ms[0]
	img := &Image{}
	if len(m.RepoTags) > 0 {
		img.Name = m.RepoTags[0]
	}
	cb, err := fsys.readFile(m.Config)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(cb, &img.Config); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", m.Config, err, errdefs.ErrInvalid)
	}
	if len(img.Config.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config has %d diff_ids for %d layers: %w", len(img.Config.RootFS.DiffIDs), len(m.Layers), errdefs.ErrInvalid)
	}
	for i, l := range m.Layers {
		img.Layers = append(img.Layers, &layer{diffID: img.Config.RootFS.DiffIDs[i], fs: fsys, name: l})
	}
	return img, nil
}

// fromOCILayout follows index.json to the first image manifest.
func fromOCILayout(fsys fileSystem) (*Image, error) {
	b, err := fsys.readFile("index.json")
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %v: %w", err, errdefs.ErrInvalid)
	}
	for depth := 0; depth < 4; depth++ {
		if len(idx.Manifests) == 0 {
			return nil, fmt.Errorf("index lists no manifest: %w", errdefs.ErrInvalid)
		}
		d := pick(idx.Manifests)
		mb, err := fsys.readFile(blobPath(d.Digest))
		if err != nil {
			return nil, err
		}
		switch d.MediaType {
		case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
			if err := json.Unmarshal(mb, &idx); err != nil {
				return nil, fmt.Errorf("index %s: %v: %w", d.Digest, err, errdefs.ErrInvalid)
			}
			continue
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(mb, &m); err != nil {
			return nil, fmt.Errorf("manifest %s: %v: %w", d.Digest, err, errdefs.ErrInvalid)
		}
		img := &Image{Name: d.Annotations[ocispec.AnnotationRefName]}
		cb, err := fsys.readFile(blobPath(m.Config.Digest))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(cb, &img.Config); err != nil {
			return nil, fmt.Errorf("config %s: %v: %w", m.Config.Digest, err, errdefs.ErrInvalid)
		}
		if len(img.Config.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("config has %d diff_ids for %d layers: %w", len(img.Config.RootFS.DiffIDs), len(m.Layers), errdefs.ErrInvalid)
		}
		for i, l := range m.Layers {
			img.Layers = append(img.Layers, &layer{diffID: img.Config.RootFS.DiffIDs[i], fs: fsys, name: blobPath(l.Digest)})
		}
		return img, nil
	}
	return nil, fmt.Errorf("indexes nested too deep: %w", errdefs.ErrInvalid)
}

// pick prefers a linux/amd64 manifest, else the first.
func pick(ds []ocispec.Descriptor) ocispec.Descriptor {
	for _, d := range ds {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
			return d
		}
	}
	return ds[0]
}

func blobPath(d digest.Digest) string {
	return path.Join("blobs", string(d.Algorithm()), d.Encoded())
}

// openLayout reads a directory: an OCI layout, or an extracted docker save.
func openLayout(root string) (*Image, error) {
	d := osDir(root)
	if _, err := os.Stat(filepath.Join(root, "manifest.json")); err == nil {
		return fromDockerManifest(d)
	}
	return fromOCILayout(d)
}

type osDir string

func (d osDir) readFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(path.Clean("/"+name))))
}

func (d osDir) open(name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), filepath.FromSlash(path.Clean("/"+name))))
}

// tarFS indexes a tar file once and serves its entries by offset.
type tarFS struct {
	f       *os.File
	entries map[string]tarEntry
}

type tarEntry struct {
	off, size int64
	link      string
}

func openTar(p string) (*Image, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	t := &tarFS{f: f, entries: map[string]tarEntry{}}
	or := &offsetReader{f: f}
	tr := tar.NewReader(or)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a docker-archive tar: %v: %w", p, err, errdefs.ErrInvalid)
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			t.entries[name] = tarEntry{off: or.off, size: h.Size}
		case tar.TypeSymlink:
			t.entries[name] = tarEntry{link: path.Join(path.Dir(name), h.Linkname)}
		case tar.TypeLink:
			t.entries[name] = tarEntry{link: path.Clean(h.Linkname)}
		}
	}
	var img *Image
	if _, ok := t.entries["manifest.json"]; ok {
		img, err = fromDockerManifest(t)
	} else {
		img, err = fromOCILayout(t)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	img.closer = f
	return img, nil
}

func (t *tarFS) lookup(name string) (tarEntry, error) {
	name = path.Clean(name)
	for range 8 {
		e, ok := t.entries[name]
		if !ok {
			return e, fmt.Errorf("%s: %w", name, errdefs.ErrNotFound)
		}
		if e.link == "" {
			return e, nil
		}
		name = e.link
	}
	return tarEntry{}, errors.New(name + ": too many links")
}

func (t *tarFS) readFile(name string) ([]byte, error) {
	e, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	if e.size > 64<<20 {
		return nil, fmt.Errorf("%s: too large: %w", name, errdefs.ErrInvalid)
	}
	b := make([]byte, e.size)
	_, err = t.f.ReadAt(b, e.off)
	return b, err
}

func (t *tarFS) open(name string) (io.ReadCloser, error) {
	e, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(io.NewSectionReader(t.f, e.off, e.size)), nil
}

// offsetReader tracks the position tar.Reader has reached, so each entry's
// data offset is known; Seek lets tar skip entry data without reading it.
type offsetReader struct {
	f   *os.File
	off int64
}

func (r *offsetReader) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	r.off += int64(n)
	return n, err
}

func (r *offsetReader) Seek(off int64, whence int) (int64, error) {
	n, err := r.f.Seek(off, whence)
	if err == nil {
		r.off = n
	}
	return n, err
}
