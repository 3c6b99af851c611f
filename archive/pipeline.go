package archive

import (
	"archive/tar"
	"bufio"
	"io"
)

// Apply runs in two goroutines: a reader that decompresses (whatever r does), parses
// the tar and reads file content ahead into 1 MiB blocks, and the extractor that makes
// the files. Tar order is kept, since one goroutine applies every entry; the reader
// only runs ahead by a few blocks. On two cores this hides the parsing (and a gzip
// or zstd stream's decoding) behind the filesystem's syscalls.

// item is one tar entry with its content, or a further piece of the content of a
// file larger than a block (hdr nil), or the reader's last word (err, io.EOF when
// the tar ended cleanly and r was read to its end).
type item struct {
	hdr  *tar.Header
	data []byte
	blk  *[]byte
	err  error
}

const (
	readBlocks = 4   // blocks of read-ahead: 4 MiB
	batchMax   = 256 // items handed over at once, to pay for a channel send rarely
)

type reader struct {
	tr    *tar.Reader
	br    *bufio.Reader
	out   chan []item
	free  chan *[]byte
	done  chan struct{}
	all   []*[]byte
	cur   *[]byte
	off   int
	batch []item
}

func newReader(r io.Reader) *reader {
	br := bufio.NewReaderSize(r, 256<<10)
	p := &reader{
		tr:   tar.NewReader(br),
		br:   br,
		out:  make(chan []item, 2),
		free: make(chan *[]byte, readBlocks),
		done: make(chan struct{}),
	}
	for range readBlocks {
		b := bufPool.Get().(*[]byte)
		p.all = append(p.all, b)
		p.free <- b
	}
	return p
}

func (p *reader) run() {
	defer close(p.out)
	for {
		hdr, err := p.tr.Next()
		if err != nil {
			if err == io.EOF {
				// The caller hashes the stream for the diffID: read the padding too.
				_, err = io.Copy(io.Discard, p.br)
				if err == nil {
					err = io.EOF
				}
			}
			if p.emit(item{err: err}) {
				p.flush()
			}
			return
		}
		size := int64(0)
		if hasContent(hdr.Typeflag) {
			size = hdr.Size
		}
		first := true
		for first || size > 0 {
			n := min(size, blockLen)
			buf, blk, ok := p.alloc(int(n))
			if !ok {
				return
			}
			it := item{data: buf, blk: blk}
			if first {
				it.hdr, first = hdr, false
			}
			if _, err := io.ReadFull(p.tr, buf); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				it.err = err
			}
			if !p.emit(it) {
				return
			}
			if it.err != nil {
				p.flush()
				return
			}
			size -= n
		}
	}
}

const blockLen = 1 << 20

func hasContent(typ byte) bool {
	return typ == tar.TypeReg || typ == tar.TypeGNUSparse || typ == tar.TypeCont
}

// alloc returns n bytes of the current block, moving to a free block when it is
// full. ok is false when the extractor gave up.
func (p *reader) alloc(n int) ([]byte, *[]byte, bool) {
	if n == 0 {
		return nil, nil, true
	}
	if p.cur == nil || p.off+n > len(*p.cur) {
		// Hand over what is read before waiting, or the extractor could not free a block.
		if !p.flush() {
			return nil, nil, false
		}
		select {
		case b := <-p.free:
			p.cur, p.off = b, 0
		case <-p.done:
			return nil, nil, false
		}
	}
	buf := (*p.cur)[p.off : p.off+n : p.off+n]
	p.off += n
	return buf, p.cur, true
}

func (p *reader) emit(it item) bool {
	p.batch = append(p.batch, it)
	if len(p.batch) >= batchMax {
		return p.flush()
	}
	return true
}

func (p *reader) flush() bool {
	if len(p.batch) == 0 {
		return true
	}
	select {
	case p.out <- p.batch:
		p.batch = make([]item, 0, batchMax)
		return true
	case <-p.done:
		return false
	}
}

// items is the extractor's side: it walks the batches in order and gives a block
// back once it has moved past it.
type items struct {
	p     *reader
	batch []item
	i     int
	held  *[]byte
}

func (s *items) next() (item, bool) {
	for s.i >= len(s.batch) {
		b, ok := <-s.p.out
		if !ok {
			return item{}, false
		}
		s.batch, s.i = b, 0
	}
	it := s.batch[s.i]
	s.batch[s.i] = item{}
	s.i++
	if it.blk != nil && it.blk != s.held {
		if s.held != nil {
			s.p.free <- s.held
		}
		s.held = it.blk
	}
	return it, true
}

// stop makes the reader give up (if it has not finished) and waits for it, so r is
// not read after Apply returns; then the blocks go back to the pool.
func (s *items) stop() {
	close(s.p.done)
	for range s.p.out {
	}
	for _, b := range s.p.all {
		bufPool.Put(b)
	}
	s.p.all, s.batch, s.held = nil, nil, nil
}

// content is a file's content as the extractor consumes it: the first piece came
// with the header, the rest follows in the next items.
type content struct {
	s     *items
	first []byte
	rest  int64
}

// each calls fn with every piece of the content in order.
func (c *content) each(fn func([]byte) error) error {
	if c.first != nil {
		b := c.first
		c.first = nil
		if err := fn(b); err != nil {
			return err
		}
	}
	for c.rest > 0 {
		it, ok := c.s.next()
		if !ok {
			return io.ErrUnexpectedEOF
		}
		if it.hdr != nil {
			panic("archive: content piece out of order")
		}
		c.rest -= int64(len(it.data))
		if len(it.data) > 0 {
			if err := fn(it.data); err != nil {
				return err
			}
		}
		if it.err != nil {
			return contentError(it.err)
		}
	}
	return nil
}

// skip consumes what the entry did not read.
func (c *content) skip() error {
	return c.each(func([]byte) error { return nil })
}
