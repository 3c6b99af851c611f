package engine

import (
	"io"
	"sync"
)

// Progress is one update of a long operation about one item (a layer): the
// CLI draws it as Docker's per-layer lines, the dashboard streams it.
type Progress struct {
	ID      string // short ID of the item, "" for a message about the whole operation
	Status  string // Docker's words: "Loading layer", "Downloading", "Pull complete"...
	Current int64
	Total   int64 // 0 when unknown or not a transfer
}

// ProgressFunc receives progress; it must be safe for concurrent use and
// fast (it is called from transfer loops).
type ProgressFunc func(Progress)

func (f ProgressFunc) send(p Progress) {
	if f != nil {
		f(p)
	}
}

// progressReader reports bytes read, at most every 256 KiB.
type progressReader struct {
	r       io.Reader
	id      string
	status  string
	total   int64
	n, last int64
	report  ProgressFunc
	mu      sync.Mutex
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.mu.Lock()
	p.n += int64(n)
	if p.n-p.last >= 256<<10 || (err != nil && p.n != p.last) {
		p.last = p.n
		p.report.send(Progress{ID: p.id, Status: p.status, Current: p.n, Total: p.total})
	}
	p.mu.Unlock()
	return n, err
}
