package registry

import (
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// digestLocks serialise the collector's deletion of a blob with a manifest
// push that relies on it.
type digestLocks struct {
	mu sync.Mutex
	m  map[digest.Digest]*lockEntry
}

type lockEntry struct {
	mu   sync.Mutex
	refs int
}

func (l *digestLocks) lock(d digest.Digest) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[digest.Digest]*lockEntry{}
	}
	e := l.m[d]
	if e == nil {
		e = &lockEntry{}
		l.m[d] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(l.m, d)
		}
		l.mu.Unlock()
	}
}

// touchMap records when a blob was last looked at (HEAD, GET, mount), so the
// collector leaves alone a blob a pusher has just checked and will name in a
// manifest soon.
type touchMap struct {
	mu sync.Mutex
	m  map[digest.Digest]time.Time
}

func (t *touchMap) touch(d digest.Digest) {
	now := time.Now()
	t.mu.Lock()
	if t.m == nil {
		t.m = map[digest.Digest]time.Time{}
	}
	t.m[d] = now
	t.mu.Unlock()
}

func (t *touchMap) last(d digest.Digest) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[d]
}

// prune forgets touches older than before.
func (t *touchMap) prune(before time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for d, at := range t.m {
		if at.Before(before) {
			delete(t.m, d)
		}
	}
}

// pullCounter batches pull counts between writes to the database.
type pullCounter struct {
	mu sync.Mutex
	m  map[string]int64
}

func (p *pullCounter) add(repo string) {
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]int64{}
	}
	p.m[repo]++
	p.mu.Unlock()
}

func (p *pullCounter) take() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.m
	p.m = nil
	return m
}
