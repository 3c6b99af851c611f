package archive

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// WriteDockerArchive writes a `docker save` style tarball (the classic
// layout: manifest.json, <config>.json, <diffID>/layer.tar) holding one image
// tagged tag whose layers are the given uncompressed layer tar files, lowest
// first. Tests and benchmarks use it to build images without a daemon.
func WriteDockerArchive(dst, tag string, layerTars ...string) (err error) {
	diffIDs := make([]digest.Digest, len(layerTars))
	sizes := make([]int64, len(layerTars))
	for i, p := range layerTars {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		sizes[i], err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		diffIDs[i] = digest.NewDigestFromEncoded(digest.SHA256, fmt.Sprintf("%x", h.Sum(nil)))
	}
	created := time.Unix(0, 0).UTC()
	cfg := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgName := digest.FromBytes(cb).Encoded() + ".json"
	m := []dockerManifest{{Config: cfgName, RepoTags: []string{tag}}}
	for _, d := range diffIDs {
		m[0].Layers = append(m[0].Layers, d.Encoded()+"/layer.tar")
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return err
	}

	out, err := os.CreateTemp(filepath.Dir(dst), ".archive-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	tw := tar.NewWriter(out)
	write := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: created}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	for i, p := range layerTars {
		if err := tw.WriteHeader(&tar.Header{Name: diffIDs[i].Encoded() + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: created}); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: diffIDs[i].Encoded() + "/layer.tar", Mode: 0o644, Size: sizes[i], ModTime: created}); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := write(cfgName, cb); err != nil {
		return err
	}
	if err := write("manifest.json", mb); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), dst)
}
