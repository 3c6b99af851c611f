// Package sbomtest builds image layers in memory for tests of the inventory
// and of what is built on it: tar layers with OCI whiteouts, and the same
// layers unpacked as overlayfs lower directories.
package sbomtest

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Entry is one tar entry of a layer.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg when zero
	Mode     int64
	Body     []byte
	Linkname string
}

// File is a regular file with mode 0644.
func File(name string, body []byte) Entry { return Entry{Name: name, Mode: 0o644, Body: body} }

// Exec is an executable regular file.
func Exec(name string, body []byte) Entry { return Entry{Name: name, Mode: 0o755, Body: body} }

// Dir is a directory.
func Dir(name string) Entry { return Entry{Name: name, Type: tar.TypeDir, Mode: 0o755} }

// Symlink is a symbolic link to target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target}
}

// Whiteout deletes name from the layers below.
func Whiteout(name string) Entry {
	dir, base := path.Split(name)
	return File(dir+".wh."+base, nil)
}

// Opaque hides the lower contents of dir.
func Opaque(dir string) Entry { return File(path.Join(dir, ".wh..wh..opq"), nil) }

// Layer is an in-memory layer tar; it implements sbom.Layer.
type Layer struct {
	Tar     []byte
	Entries []Entry
}

// NewLayer writes entries into a tar, adding parent directories first as
// real layer tars have them.
func NewLayer(entries ...Entry) *Layer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	mtime := time.Unix(1700000000, 0)
	for _, e := range entries {
		name := strings.Trim(e.Name, "/")
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if dirs[d] {
				break
			}
			dirs[d] = true
		}
	}
	// parents before children
	var parents []string
	for d := range dirs {
		parents = append(parents, d)
	}
	slices.SortFunc(parents, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.Count(a, "/"), strings.Count(b, "/")), cmp.Compare(a, b))
	})
	for _, d := range parents {
		must(tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}))
	}
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		name := strings.Trim(e.Name, "/")
		if typ == tar.TypeDir {
			if dirs[name] {
				continue
			}
			name += "/"
		}
		h := &tar.Header{Name: name, Typeflag: typ, Mode: e.Mode, Linkname: e.Linkname, ModTime: mtime}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		must(tw.WriteHeader(h))
		if typ == tar.TypeReg {
			_, err := tw.Write(e.Body)
			must(err)
		}
	}
	must(tw.Close())
	return &Layer{Tar: buf.Bytes(), Entries: entries}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// DiffID is the digest of the uncompressed tar.
func (l *Layer) DiffID() digest.Digest {
	return digest.NewDigestFromEncoded(digest.SHA256, fmt.Sprintf("%x", sha256.Sum256(l.Tar)))
}

// Open returns the tar stream.
func (l *Layer) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.Tar)), nil
}

// DirLayer is a Layer unpacked as an overlayfs lower directory.
type DirLayer struct {
	*Layer
	Path string
}

// Dir returns the unpacked directory.
func (l *DirLayer) Dir() string { return l.Path }

// Unpack writes the layer into dir the way an overlayfs snapshotter does:
// whiteouts become 0/0 character devices, opaque markers the
// trusted.overlay.opaque xattr. It needs root (mknod, trusted xattrs).
func (l *Layer) Unpack(dir string) (*DirLayer, error) {
	for _, e := range l.Entries {
		name := strings.Trim(e.Name, "/")
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		d, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			if err := unix.Setxattr(filepath.Join(dir, d), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
				return nil, fmt.Errorf("opaque %s: %w", d, err)
			}
			continue
		case strings.HasPrefix(base, ".wh."):
			if err := unix.Mknod(filepath.Join(dir, d, base[4:]), unix.S_IFCHR, 0); err != nil {
				return nil, fmt.Errorf("whiteout %s: %w", name, err)
			}
			continue
		}
		var err error
		switch e.Type {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(e.Linkname, p)
		case tar.TypeLink:
			err = os.Link(filepath.Join(dir, e.Linkname), p)
		default:
			err = os.WriteFile(p, e.Body, os.FileMode(e.Mode))
			if err == nil {
				err = os.Chmod(p, os.FileMode(e.Mode))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return &DirLayer{Layer: l, Path: dir}, nil
}
