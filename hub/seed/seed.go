// Package seed builds real images in memory: gzip layers from files, a
// config with one history entry per layer, and an OCI manifest. The hub
// seeds itself with the welcome image built here, and tests build their
// images with the same code.
package seed

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image"
)

// File is one entry of a layer: a regular file (Data, or the contents of
// Source), a directory (Dir), or a symlink (Link).
type File struct {
	Name   string // path inside the image, without a leading slash
	Mode   int64  // permission bits; default 0644, 0755 for directories
	Data   []byte
	Source string // a file on this machine to copy in
	Link   string
	Dir    bool
}

// Layer is a set of files and the build step that made it.
type Layer struct {
	Files     []File
	CreatedBy string
}

// Blob is content with its descriptor.
type Blob struct {
	ocispec.Descriptor
	Data []byte
}

// Image is a built image: every blob (config first, then layers), and the
// manifest that names them.
type Image struct {
	Manifest       []byte
	MediaType      string
	Digest         digest.Digest
	Config         Blob
	Layers         []Blob
	ConfigContents image.Config
}

// Blobs lists the config and the layers.
func (im Image) Blobs() []Blob { return append([]Blob{im.Config}, im.Layers...) }

// Options complete an image beyond its layers.
type Options struct {
	Config  image.ContainerConfig
	Created time.Time
	// ExtraHistory is appended after the layers' steps, as empty steps
	// (CMD, EXPOSE, ...).
	ExtraHistory []string
	// HistoryComment is every history row's comment, as BuildKit writes
	// buildkit.dockerfile.v0: it says what made the image.
	HistoryComment string
	Annotations    map[string]string
}

// Build makes an image from layers.
func Build(layers []Layer, o Options) (Image, error) {
	created := o.Created
	if created.IsZero() {
		created = time.Now().UTC().Truncate(time.Second)
	}
	var im Image
	cfg := image.Config{
		Created: &created, Architecture: runtime.GOARCH, OS: "linux",
		Config: &o.Config, RootFS: image.RootFS{Type: "layers"},
	}
	for i, l := range layers {
		tarData, err := TarLayer(l.Files, created)
		if err != nil {
			return Image{}, fmt.Errorf("layer %d: %w", i, err)
		}
		gz, err := Gzip(tarData)
		if err != nil {
			return Image{}, err
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(tarData))
		cfg.History = append(cfg.History, image.History{Created: &created, CreatedBy: l.CreatedBy, Comment: o.HistoryComment})
		im.Layers = append(im.Layers, Blob{
			Descriptor: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(gz), Size: int64(len(gz))},
			Data:       gz,
		})
	}
	for _, h := range o.ExtraHistory {
		cfg.History = append(cfg.History, image.History{Created: &created, CreatedBy: h, EmptyLayer: true, Comment: o.HistoryComment})
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, err
	}
	im.ConfigContents = cfg
	im.Config = Blob{Descriptor: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cb), Size: int64(len(cb))}, Data: cb}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: im.Config.Descriptor, Annotations: o.Annotations}
	m.SchemaVersion = 2
	for _, l := range im.Layers {
		m.Layers = append(m.Layers, l.Descriptor)
	}
	if im.Manifest, err = json.Marshal(m); err != nil {
		return Image{}, err
	}
	im.MediaType = ocispec.MediaTypeImageManifest
	im.Digest = digest.FromBytes(im.Manifest)
	return im, nil
}

// TarLayer writes files as an uncompressed layer tar, parents first, owned
// by root, with the given modification time.
func TarLayer(files []File, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.Name, ModTime: mtime, Mode: f.Mode, Format: tar.FormatPAX}
		data := f.Data
		switch {
		case f.Dir:
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			if hdr.Mode == 0 {
				hdr.Mode = 0o755
			}
		case f.Link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, f.Link, 0o777
		default:
			if f.Source != "" {
				b, err := os.ReadFile(f.Source)
				if err != nil {
					return nil, err
				}
				data = b
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(data))
			if hdr.Mode == 0 {
				hdr.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Gzip compresses a layer.
func Gzip(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
