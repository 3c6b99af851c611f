package sbom

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/knqyf263/go-rpmdb/pkg/bdb"
)

// bdbBlobs reads the header blobs of a BerkeleyDB hash database (rpm's
// Packages before rpm 4.16) as go-rpmdb's bdb reader does, but bounded.
// That reader runs in a goroutine of its own and trusts the file: an
// offset past its page panicked there (found by FuzzRpmDB), which no
// caller can recover, so an image with a crafted Packages file would
// crash any process taking its inventory (the CLI, the hub); an overflow
// page of another type, or a chain that loops, read for ever. Here every
// offset is checked against its page, page numbers against the file, a
// chain may not be longer than the file has pages, and all blobs
// together may not exceed bdbMaxTotal.
func bdbBlobs(p string) ([][]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	meta := make([]byte, 512)
	if _, err := f.ReadAt(meta, 0); err != nil {
		return nil, fmt.Errorf("reading the metadata page: %w", err)
	}
	md, err := bdb.ParseHashMetadataPage(meta)
	if err != nil {
		return nil, err
	}
	ps := int64(md.PageSize)
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("page size %d: %w", ps, errRpmHeader)
	}
	r := &bdbReader{f: f, ps: ps, pages: fi.Size() / ps, order: binary.LittleEndian}
	if md.Swapped {
		r.order = binary.BigEndian
	}
	last := min(int64(md.LastPageNo), r.pages-1)
	page := make([]byte, ps)
	var out [][]byte
	for n := int64(0); n <= last; n++ {
		if err := r.read(n, page); err != nil {
			return out, err
		}
		blobs, err := r.hashPage(page)
		out = append(out, blobs...)
		if err != nil {
			return out, fmt.Errorf("page %d: %w", n, err)
		}
	}
	return out, nil
}

// bdbMaxTotal bounds what one database may give: rpm databases of the
// largest distributions are under 200 MB.
const bdbMaxTotal = 512 << 20

type bdbReader struct {
	f     *os.File
	ps    int64 // page size
	pages int64 // whole pages in the file
	order binary.ByteOrder
	total int64 // bytes of blobs so far
}

const (
	bdbHeader    = bdb.PageHeaderSize
	bdbOffEntry  = bdb.HashOffPageSize
	bdbTypeAt    = 25 // the page type's offset in a page header
	bdbEntriesAt = 20 // the number of entries
	bdbFreeAt    = 22 // the high free byte offset
	bdbNextAt    = 16 // the next page's number
)

func (r *bdbReader) read(n int64, page []byte) error {
	if n < 0 || n >= r.pages {
		return fmt.Errorf("page %d past the %d pages of the file: %w", n, r.pages, errRpmHeader)
	}
	if _, err := r.f.ReadAt(page, n*r.ps); err != nil {
		return fmt.Errorf("reading page %d: %w", n, err)
	}
	return nil
}

// hashPage returns the blobs a hash page points to: its entries are
// key/value pairs of in-page offsets, and a value of type HOFFPAGE names
// the first page of an overflow chain that holds a header blob.
func (r *bdbReader) hashPage(page []byte) ([][]byte, error) {
	if t := page[bdbTypeAt]; t != bdb.HashUnsortedPageType && t != bdb.HashPageType {
		return nil, nil
	}
	entries := int(r.order.Uint16(page[bdbEntriesAt:]))
	if entries%2 != 0 || bdbHeader+2*entries > len(page) {
		return nil, fmt.Errorf("%d hash entries: %w", entries, errRpmHeader)
	}
	var out [][]byte
	for i := 1; i < entries; i += 2 {
		off := int(r.order.Uint16(page[bdbHeader+2*i:]))
		if off >= len(page) {
			return out, fmt.Errorf("entry at %d past the page: %w", off, errRpmHeader)
		}
		if page[off] != bdb.HashOffIndexPageType { // a key or an in-page value: no package
			continue
		}
		if off+bdbOffEntry > len(page) {
			return out, fmt.Errorf("entry at %d past the page: %w", off, errRpmHeader)
		}
		b, err := r.overflow(int64(r.order.Uint32(page[off+4:])))
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// overflow concatenates an overflow chain from page n.
func (r *bdbReader) overflow(n int64) ([]byte, error) {
	page := make([]byte, r.ps)
	var out []byte
	for steps := int64(0); n != 0; steps++ {
		if steps >= r.pages {
			return nil, fmt.Errorf("an overflow chain longer than the file: %w", errRpmHeader)
		}
		if err := r.read(n, page); err != nil {
			return nil, err
		}
		if page[bdbTypeAt] != bdb.OverflowPageType {
			return nil, fmt.Errorf("page %d in an overflow chain is of type %d: %w", n, page[bdbTypeAt], errRpmHeader)
		}
		next := int64(r.order.Uint32(page[bdbNextAt:]))
		end := len(page)
		if next == 0 {
			end = bdbHeader + int(r.order.Uint16(page[bdbFreeAt:]))
			if end > len(page) {
				return nil, fmt.Errorf("page %d holds more than its size: %w", n, errRpmHeader)
			}
		}
		r.total += int64(end - bdbHeader)
		if r.total > bdbMaxTotal {
			return nil, fmt.Errorf("more than %d bytes of headers: %w", bdbMaxTotal, errRpmHeader)
		}
		out = append(out, page[bdbHeader:end]...)
		n = next
	}
	return out, nil
}
