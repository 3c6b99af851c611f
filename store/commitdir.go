package store

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// CommitDir makes dir, a directory of files in the layer format (overlay
// whiteouts: 0/0 character devices and trusted.overlay.opaque=y), the layer
// on top of parent, without copying its files: dir is renamed into a layer
// being written, so it must be on the store's filesystem (ScratchDir, a
// container's upper directory). The layer's tar is generated once, in a
// fixed order (names sorted, as BuildKit writes them), to compute its diff
// ID and record its tar-split; from then on the tar is regenerated from the
// files like any other layer's. With clamp set, no entry's mtime is later
// than it (SOURCE_DATE_EPOCH). On error dir is gone.
func (s *Store) CommitDir(ctx context.Context, dir string, parent digest.Digest, clamp *time.Time) (LayerInfo, error) {
	var info LayerInfo
	lw, err := s.NewLayerWriter(ctx)
	if err != nil {
		removeAll(dir)
		return info, err
	}
	defer lw.Discard()
	if err := os.Remove(lw.FS()); err != nil {
		removeAll(dir)
		return info, err
	}
	if err := os.Rename(dir, lw.FS()); err != nil {
		removeAll(dir)
		return info, fmt.Errorf("taking %s as a layer: %w", dir, err)
	}
	pr, pw := io.Pipe()
	var size int64
	go func() {
		n, err := writeDirTar(ctx, pw, lw.FS(), clamp)
		size = n
		pw.CloseWithError(err)
	}()
	rec, err := newSplitRecorder(lw.dir, pr)
	if err != nil {
		pr.CloseWithError(err)
		return info, err
	}
	dg := digest.Canonical.Digester()
	n, err := io.Copy(dg.Hash(), rec.r)
	if err != nil {
		rec.abort()
		return info, fmt.Errorf("layer from %s: %w", dir, err)
	}
	if err := rec.finish(); err != nil {
		return info, err
	}
	info = LayerInfo{ChainID: ChainID(parent, dg.Digest()), DiffID: dg.Digest(), Parent: parent, Size: size, DiffSize: n}
	if why := rec.lossy(lw.FS(), n); why != "" {
		return info, fmt.Errorf("layer from %s cannot give its tar back: %s", dir, why)
	}
	return info, lw.Commit(info)
}

// writeDirTar writes the tar of a layer directory, names sorted, overlay
// whiteouts turned into OCI ones, and returns the files' size as Docker
// counts it.
func writeDirTar(ctx context.Context, w io.Writer, root string, clamp *time.Time) (int64, error) {
	return writeDirTarFiltered(ctx, w, root, clamp, func(string) bool { return false })
}

// writeDirTarFiltered is writeDirTar leaving out what skip names (and
// what is under it).
func writeDirTarFiltered(ctx context.Context, w io.Writer, root string, clamp *time.Time, skip func(rel string) bool) (int64, error) {
	tw := tar.NewWriter(w)
	var size int64
	links := map[uint64]string{} // inode → first name, for hard links
	err := walkSorted(root, "", func(rel string, fi fs.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if skip(rel) {
			return filepath.SkipDir
		}
		full := filepath.Join(root, rel)
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0 {
			dir, base := filepath.Split(rel)
			return tw.WriteHeader(&tar.Header{Name: dir + ".wh." + base, Typeflag: tar.TypeReg, ModTime: clampTime(fi.ModTime(), clamp), Format: tar.FormatPAX})
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uname, hdr.Gname = rel, "", ""
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = clampTime(fi.ModTime(), clamp), time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if hdr.Linkname, err = os.Readlink(full); err != nil {
				return err
			}
		}
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			if first, ok := links[st.Ino]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[st.Ino] = rel
			}
		}
		opaque, err := addXattrs(hdr, full)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			size += hdr.Size
			if err := copyFile(tw, full); err != nil {
				return err
			}
		}
		if opaque {
			return tw.WriteHeader(&tar.Header{Name: rel + "/.wh..wh..opq", Typeflag: tar.TypeReg, ModTime: hdr.ModTime, Format: tar.FormatPAX})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return size, tw.Close()
}

// walkSorted calls fn for every entry under root/rel, parents first, each
// directory's entries sorted by name.
func walkSorted(root, rel string, fn func(rel string, fi fs.FileInfo) error) error {
	ents, err := os.ReadDir(filepath.Join(root, rel))
	if err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		name := filepath.Join(rel, e.Name())
		fi, err := os.Lstat(filepath.Join(root, name))
		if err != nil {
			return err
		}
		err = fn(name, fi)
		if err == filepath.SkipDir {
			continue
		}
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := walkSorted(root, name, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// addXattrs records a file's xattrs in its header, except overlayfs's own,
// and tells whether it is an opaque directory.
func addXattrs(hdr *tar.Header, path string) (opaque bool, err error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(path, buf)
	if err != nil || n == 0 {
		return false, nil // no xattrs, or a filesystem without them
	}
	names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	for _, name := range names {
		val := make([]byte, 4096)
		m, err := unix.Lgetxattr(path, name, val)
		if err != nil {
			return false, fmt.Errorf("xattr %s of %s: %w", name, path, err)
		}
		if name == "trusted.overlay.opaque" {
			opaque = bytes.Equal(val[:m], []byte("y"))
			continue
		}
		if strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+name] = string(val[:m])
	}
	return opaque, nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func clampTime(t time.Time, clamp *time.Time) time.Time {
	if clamp != nil && t.After(*clamp) {
		t = *clamp
	}
	return t.Truncate(time.Second)
}
