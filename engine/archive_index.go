package engine

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// tarIndex locates each file of an image archive without reading the
// bodies, so layers can then be read in parallel straight from the file.
type tarIndex struct {
	f     *os.File
	files map[string]tarEntry
}

type tarEntry struct {
	offset, size int64
}

// indexArchive reads the headers of a tar file.
func indexArchive(f *os.File) (*tarIndex, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	idx := &tarIndex{f: f, files: map[string]tarEntry{}}
	links := map[string]string{}
	tr := tar.NewReader(f) // tar.Reader seeks over bodies when it can
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %v: %w", err, errdefs.ErrInvalid)
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			idx.files[name] = tarEntry{offset: off, size: h.Size}
		case tar.TypeSymlink:
			links[name] = path.Join(path.Dir(name), h.Linkname)
		case tar.TypeLink:
			links[name] = path.Clean(h.Linkname)
		}
	}
	// docker save writes a layer shared by two images once and links it.
	for name, target := range links {
		for i := 0; i < 8; i++ {
			if next, ok := links[target]; ok {
				target = next
			}
		}
		if e, ok := idx.files[target]; ok {
			idx.files[name] = e
		}
	}
	return idx, nil
}

func (t *tarIndex) has(name string) bool {
	_, ok := t.files[path.Clean(name)]
	return ok
}

func (t *tarIndex) open(name string) (*io.SectionReader, error) {
	e, ok := t.files[path.Clean(name)]
	if !ok {
		return nil, fmt.Errorf("the archive has no file %s: %w", name, errdefs.ErrInvalid)
	}
	return io.NewSectionReader(t.f, e.offset, e.size), nil
}

func (t *tarIndex) read(name string, limit int64) ([]byte, error) {
	r, err := t.open(name)
	if err != nil {
		return nil, err
	}
	if r.Size() > limit {
		return nil, fmt.Errorf("%s in the archive is %d bytes, more than %d: %w", name, r.Size(), limit, errdefs.ErrInvalid)
	}
	return io.ReadAll(r)
}

// seekableArchive returns the archive as a plain tar file that can be read
// at any offset: the file itself when it is one, else a copy in the store's
// scratch space (stdin from a pipe, a compressed archive), as docker load
// accepts gzip and zstd archives too. cleanup removes any copy.
func (e *Engine) seekableArchive(ctx context.Context, r io.Reader) (f *os.File, cleanup func(), err error) {
	// A plain tar file is read where it lies. Its head is read with ReadAt:
	// a buffered Peek would move the file's offset and make it look like a
	// stream to copy.
	if file, ok := r.(*os.File); ok {
		if fi, err := file.Stat(); err == nil && fi.Mode().IsRegular() {
			if pos, err := file.Seek(0, io.SeekCurrent); err == nil && pos == 0 {
				head := make([]byte, 4)
				n, _ := file.ReadAt(head, 0)
				if image.DetectCompression(head[:n]) == image.Uncompressed {
					return file, func() {}, nil
				}
			}
		}
	}
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(4)
	comp := image.DetectCompression(head)
	src := io.Reader(br)
	if comp != image.Uncompressed {
		dec, err := archive.Decompress(br, comp)
		if err != nil {
			return nil, nil, err
		}
		defer dec.Close()
		src = dec
	}
	tmp, err := os.CreateTemp(e.store.ScratchDir(), "load-*.tar")
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, &ctxReader{ctx: ctx, r: src}); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("reading the archive: %w", err)
	}
	return tmp, cleanup, nil
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
