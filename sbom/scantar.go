package sbom

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// elfMagic opens every ELF file; executables without it are skipped after
// four bytes.
var elfMagic = []byte("\x7fELF")

// decompress returns the tar stream inside r, whether r is plain, gzip or zstd.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// scanTar reads one layer's tar stream once, keeping only candidate files.
// A stream that breaks off is a warning: what was read before still counts.
func (s *scanner) scanTar(ctx context.Context, ls *layerScan, r io.Reader) {
	name := "layer " + ls.diffID.String()
	tr, closeFn, err := decompress(r)
	if err != nil {
		ls.warn(name, err)
		return
	}
	defer closeFn()
	rd := tar.NewReader(tr)
	dirs := map[string]bool{} // directories this layer made, for a later entry replacing one
	for {
		if err := ctx.Err(); err != nil {
			ls.warn(name, err)
			return
		}
		hdr, err := rd.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			ls.warn(name, fmt.Errorf("reading tar: %w", err))
			return
		}
		rel := cleanName(hdr.Name)
		if rel == "" {
			continue
		}
		dir, base := splitPath(rel)
		if ls.whiteout(dir, base) {
			// A whiteout replaces what this layer had there, too.
			ls.replaced(strings.TrimPrefix(dir+base[len(".wh."):], "/"), false, dirs)
			continue
		}
		ls.replaced(rel, hdr.Typeflag == tar.TypeDir, dirs)
		switch hdr.Typeflag {
		case tar.TypeDir:
			dirs[rel] = true
			continue
		case tar.TypeReg, tar.TypeGNUSparse: // a file, as extraction makes it
			ls.nondirs[hashPath(rel)] = struct{}{}
			k := classify(rel, hdr.FileInfo().Mode())
			if k == kindNone || (k == kindExec && hdr.Size < 64) {
				continue
			}
			c, err := s.readEntry(rd, hdr, rel, k)
			if err != nil {
				ls.warn("/"+rel, err)
				if c == nil {
					// the stream itself failed; nothing after this is readable
					return
				}
				continue
			}
			if c == nil {
				continue // an executable that is not ELF
			}
			s.record(ctx, ls, rel, k, c)
			c.release()
		case tar.TypeLink:
			ls.nondirs[hashPath(rel)] = struct{}{}
			// a hard link to a candidate earlier in this layer holds the same packages
			if f := ls.found[cleanName(hdr.Linkname)]; f != nil {
				ls.found[rel] = f.at("/" + rel)
			}
		default:
			ls.nondirs[hashPath(rel)] = struct{}{}
		}
	}
}

// replaced forgets what an earlier entry of the layer put at rel, which the
// entry now read replaces: a path given twice is what its last entry
// says, as Docker, containerd and archive.Apply apply it. A directory
// replaces only a non-directory (a directory given again is kept, with
// what is in it); anything else replaces a directory and all it held.
func (ls *layerScan) replaced(rel string, isDir bool, dirs map[string]bool) {
	delete(ls.found, rel)
	if isDir {
		delete(ls.nondirs, hashPath(rel))
		return
	}
	if !dirs[rel] {
		return
	}
	prefix := rel + "/"
	for p := range ls.found {
		if strings.HasPrefix(p, prefix) {
			delete(ls.found, p)
		}
	}
	for d := range dirs {
		if d == rel || strings.HasPrefix(d, prefix) {
			delete(dirs, d)
		}
	}
}

// readEntry reads a candidate tar entry into memory, or into a temporary
// file when it is large or its parser needs a file name (rpm databases).
// It returns nil, nil for an executable that is not ELF; nil content with an
// error when the stream failed, content with an error when only this entry is bad.
func (s *scanner) readEntry(rd io.Reader, hdr *tar.Header, rel string, k kind) (*content, error) {
	c := &content{path: "/" + rel, size: hdr.Size}
	var head []byte
	if k == kindExec {
		head = make([]byte, len(elfMagic))
		if _, err := io.ReadFull(rd, head); err != nil {
			return nil, err
		}
		if !bytes.Equal(head, elfMagic) {
			return nil, nil
		}
	} else if k != kindJar && k != kindRpmDB && hdr.Size > maxTextSize {
		return c, fmt.Errorf("file too large (%d bytes)", hdr.Size)
	}
	if hdr.Size > s.copyLimit {
		return c, fmt.Errorf("file too large to copy out of the layer (%d bytes, more than %d)", hdr.Size, s.copyLimit)
	}
	if hdr.Size <= s.memLimit && k != kindRpmDB {
		c.data = make([]byte, hdr.Size)
		copy(c.data, head)
		if _, err := io.ReadFull(rd, c.data[len(head):]); err != nil {
			return nil, err
		}
		return c, nil
	}
	f, err := os.CreateTemp(s.tempDir, "berth-sbom-*")
	if err != nil {
		return c, err
	}
	c.file, c.temp = f, true
	if _, err := f.Write(head); err != nil {
		c.release()
		return c, err
	}
	if _, err := io.Copy(f, rd); err != nil {
		c.release()
		return nil, err
	}
	return c, nil
}

// release closes the content's file and removes it if it was a temporary copy.
func (c *content) release() {
	if c.file == nil {
		return
	}
	c.file.Close()
	if c.temp {
		os.Remove(c.file.Name())
	}
}
