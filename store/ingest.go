package store

import (
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Partial reads the bytes an earlier attempt left in the ingest: the first
// Offset() bytes of the blob. A resumed download replays them through
// Unpack (the layer is extracted from the whole stream) and fetches only
// the rest.
func (w *BlobWriter) Partial() (io.ReadCloser, error) {
	f, err := os.OpenFile(filepath.Join(w.dir, "data"), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &partialReader{Reader: io.LimitReader(f, w.offset), f: f}, nil
}

type partialReader struct {
	io.Reader
	f *os.File
}

func (p *partialReader) Close() error { return p.f.Close() }
