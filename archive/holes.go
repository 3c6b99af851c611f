package archive

import (
	"bytes"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// holeBlock is the unit of a hole: an aligned block of zeros in a file's
// content is seeked over instead of written, as `cp --sparse=always` and
// GNU tar do. A sparse tar (GNU or PAX sparse) reads back with its holes as
// zeros, so a 150-byte gzipped layer could otherwise write a 300 MB file
// in full; any file's runs of zeros now cost no disk either. The content
// reads back the same: a hole reads as zeros.
const holeBlock = 4096

var zeroBlock [holeBlock]byte

// holes writes a file's content, leaving zero blocks as holes.
type holes struct {
	off     int64 // bytes of content handed over so far
	pending int64 // zeros at the end not yet seeked over
}

func (h *holes) write(fd int, b []byte) error {
	for len(b) > 0 {
		// Blocks are aligned to the file's offset, so a hole is whole blocks.
		n := min(len(b), holeBlock-int(h.off%holeBlock))
		if n == holeBlock && bytes.Equal(b[:n], zeroBlock[:]) {
			h.pending += int64(n)
		} else {
			if err := h.seek(fd); err != nil {
				return err
			}
			if err := writeAll(fd, b[:n]); err != nil {
				return err
			}
		}
		h.off += int64(n)
		b = b[n:]
	}
	return nil
}

func (h *holes) seek(fd int) error {
	if h.pending == 0 {
		return nil
	}
	if _, err := unix.Seek(fd, h.pending, io.SeekCurrent); err != nil {
		return fmt.Errorf("seeking over a hole: %w", err)
	}
	h.pending = 0
	return nil
}

// finish gives a file that ends in a hole its length.
func (h *holes) finish(fd int) error {
	if h.pending == 0 {
		return nil
	}
	if err := unix.Ftruncate(fd, h.off); err != nil {
		return fmt.Errorf("writing file content: extending over a hole: %w", err)
	}
	h.pending = 0
	return nil
}
