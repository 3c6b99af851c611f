// Package testimage builds layers, configs and image archives in memory for
// tests: there is no Docker Hub here, so test images are made, not pulled.
package testimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// File is one tar entry. Typeflag defaults to a regular file (or a
// directory when Name ends in "/").
type File struct {
	Name     string
	Body     string
	Mode     int64
	Typeflag byte
	Linkname string
	UID, GID int
	ModTime  time.Time
}

// Epoch is the fixed time test entries get, so layers are reproducible.
var Epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Tar builds an uncompressed layer from entries, in order.
func Tar(files ...File) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, Typeflag: f.Typeflag, Linkname: f.Linkname, Uid: f.UID, Gid: f.GID, ModTime: f.ModTime, Format: tar.FormatPAX}
		if h.ModTime.IsZero() {
			h.ModTime = Epoch
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			if len(f.Name) > 0 && f.Name[len(f.Name)-1] == '/' {
				h.Typeflag = tar.TypeDir
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(f.Body)); err != nil {
				panic(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// RandomTar builds a layer of n files of about size bytes each, random but
// reproducible from seed.
func RandomTar(seed int64, n, size int) []byte {
	r := rand.New(rand.NewSource(seed))
	files := []File{{Name: fmt.Sprintf("d%d/", seed)}}
	for i := 0; i < n; i++ {
		b := make([]byte, size)
		r.Read(b)
		files = append(files, File{Name: fmt.Sprintf("d%d/f%d", seed, i), Body: string(b)})
	}
	return Tar(files...)
}

// Gzip compresses a layer.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// Zstd compresses a layer.
func Zstd(b []byte) []byte {
	w, _ := zstd.NewWriter(nil)
	defer w.Close()
	return w.EncodeAll(b, nil)
}

// Config is an image config for the given uncompressed layers, with one
// history entry per layer and an empty-layer CMD step, as Docker writes.
func Config(cmd []string, layers ...[]byte) []byte {
	var diffIDs []digest.Digest
	var history []map[string]any
	for i, l := range layers {
		diffIDs = append(diffIDs, digest.FromBytes(l))
		history = append(history, map[string]any{
			"created":    Epoch.Add(time.Duration(i) * time.Minute).Format(time.RFC3339Nano),
			"created_by": fmt.Sprintf("/bin/sh -c #(nop) ADD file:%d in / ", i),
		})
	}
	history = append(history, map[string]any{
		"created":     Epoch.Add(time.Hour).Format(time.RFC3339Nano),
		"created_by":  fmt.Sprintf("/bin/sh -c #(nop)  CMD %q", cmd),
		"empty_layer": true,
	})
	cfg := map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      Epoch.Add(time.Hour).Format(time.RFC3339Nano),
		"config": map[string]any{
			"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd": cmd,
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// ArchiveImage is one image of a Docker archive.
type ArchiveImage struct {
	Config []byte
	Layers [][]byte // uncompressed, or compressed as they should appear
	Tags   []string
}

// DockerArchive builds an archive as `docker save` of Docker 20.10 writes
// it: <id>/layer.tar per layer, <config>.json, manifest.json.
func DockerArchive(imgs ...ArchiveImage) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	file := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(b)), Mode: 0o644, ModTime: Epoch, Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []entry
	written := map[string]bool{}
	for _, img := range imgs {
		e := entry{Config: digest.FromBytes(img.Config).Encoded() + ".json", RepoTags: img.Tags}
		for _, l := range img.Layers {
			id := digest.FromBytes(l).Encoded()
			name := id + "/layer.tar"
			if !written[name] {
				tw.WriteHeader(&tar.Header{Name: id + "/", Mode: 0o755, ModTime: Epoch, Typeflag: tar.TypeDir})
				file(id+"/VERSION", []byte("1.0"))
				file(id+"/json", []byte(`{"id":"`+id+`"}`))
				file(name, l)
				written[name] = true
			}
			e.Layers = append(e.Layers, name)
		}
		file(e.Config, img.Config)
		manifest = append(manifest, e)
	}
	m, _ := json.Marshal(manifest)
	file("manifest.json", m)
	tw.Close()
	return buf.Bytes()
}
