package archive

import (
	"bufio"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// Decompress returns the uncompressed stream of r, compressed as c. Closing it
// releases the decompressor, not r.
func Decompress(r io.Reader, c image.Compression) (io.ReadCloser, error) {
	switch c {
	case image.Uncompressed:
		return io.NopCloser(r), nil
	case image.Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip layer: %w (%w)", err, errdefs.ErrInvalid)
		}
		return zr, nil
	case image.Zstd:
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("zstd layer: %w (%w)", err, errdefs.ErrInvalid)
		}
		return zr.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("layer compression %v: %w", c, errdefs.ErrUnsupported)
}

// DecompressAuto tells the compression of r from its first bytes and returns the
// uncompressed stream, as Decompress.
func DecompressAuto(r io.Reader) (io.ReadCloser, image.Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, 0, fmt.Errorf("reading layer: %w", err)
	}
	c := image.DetectCompression(head)
	rc, err := Decompress(br, c)
	return rc, c, err
}
