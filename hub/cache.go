package hub

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/meta"
)

// repoCache holds every repository's record: pulls check privacy here
// instead of asking the database.
type repoCache struct {
	mu sync.RWMutex
	m  map[string]meta.Repo
}

func newRepoCache() *repoCache { return &repoCache{m: map[string]meta.Repo{}} }

func (c *repoCache) get(name string) (meta.Repo, bool) {
	c.mu.RLock()
	r, ok := c.m[name]
	c.mu.RUnlock()
	return r, ok
}

func (c *repoCache) put(r meta.Repo) {
	c.mu.Lock()
	c.m[r.Name] = r
	c.mu.Unlock()
}

func (c *repoCache) remove(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

// cachedManifest is a manifest ready to send: body and header values.
type cachedManifest struct {
	digest    digest.Digest
	mediaType string
	body      []byte
	length    string
}

// manifestCache maps repository and reference (tag or digest) to a manifest
// ready to serve. Each repository has a generation: a fill that started
// before an invalidation is dropped, so a reader racing a tag update cannot
// put the old manifest back.
type manifestCache struct {
	mu    sync.RWMutex
	repos map[string]*repoManifests
}

type repoManifests struct {
	gen  uint64
	refs map[string]*cachedManifest
}

func newManifestCache() *manifestCache { return &manifestCache{repos: map[string]*repoManifests{}} }

func (c *manifestCache) get(repo, ref string) (*cachedManifest, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	rm := c.repos[repo]
	if rm == nil {
		return nil, 0
	}
	return rm.refs[ref], rm.gen
}

func (c *manifestCache) put(repo, ref string, gen uint64, m *cachedManifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rm := c.repos[repo]
	if rm == nil {
		if gen != 0 {
			return
		}
		rm = &repoManifests{refs: map[string]*cachedManifest{}}
		c.repos[repo] = rm
	}
	if rm.gen != gen || len(rm.refs) > 4096 {
		return
	}
	rm.refs[ref] = m
}

func (c *manifestCache) invalidate(repo string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rm := c.repos[repo]
	if rm == nil {
		rm = &repoManifests{}
		c.repos[repo] = rm
	}
	rm.gen++
	rm.refs = map[string]*cachedManifest{}
}

func newCachedManifest(d digest.Digest, mt string, body []byte) *cachedManifest {
	return &cachedManifest{digest: d, mediaType: mt, body: body, length: strconv.Itoa(len(body))}
}

// blobCache keeps small blobs (configs, small layers, manifests) in memory,
// by digest. Content never changes under a digest, so entries need no
// invalidation except when the collector deletes the blob.
type blobCache struct {
	mu    sync.RWMutex
	max   int64
	size  int64
	m     map[digest.Digest][]byte
	order []digest.Digest // insertion order, for eviction
}

const smallBlob = 256 << 10

func newBlobCache(max int64) *blobCache { return &blobCache{max: max, m: map[digest.Digest][]byte{}} }

func (c *blobCache) get(d digest.Digest) ([]byte, bool) {
	c.mu.RLock()
	b, ok := c.m[d]
	c.mu.RUnlock()
	return b, ok
}

func (c *blobCache) put(d digest.Digest, b []byte) {
	if int64(len(b)) > smallBlob {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[d]; ok {
		return
	}
	for c.size+int64(len(b)) > c.max && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= int64(len(c.m[old]))
		delete(c.m, old)
	}
	c.m[d] = b
	c.size += int64(len(b))
	c.order = append(c.order, d)
}

func (c *blobCache) remove(d digest.Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.m[d]; ok {
		c.size -= int64(len(b))
		delete(c.m, d)
		for i, o := range c.order {
			if o == d {
				c.order = append(c.order[:i], c.order[i+1:]...)
				break
			}
		}
	}
}

// linkCache remembers which repository may serve which blob, positively
// only: a new link needs no invalidation, a removed one invalidates the
// repository's entries.
type linkCache struct {
	mu sync.RWMutex
	m  map[string]map[digest.Digest]struct{}
	n  int
}

func newLinkCache() *linkCache { return &linkCache{m: map[string]map[digest.Digest]struct{}{}} }

func (c *linkCache) has(repo string, d digest.Digest) bool {
	c.mu.RLock()
	_, ok := c.m[repo][d]
	c.mu.RUnlock()
	return ok
}

func (c *linkCache) add(repo string, d digest.Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n > 1_000_000 {
		clear(c.m)
		c.n = 0
	}
	set := c.m[repo]
	if set == nil {
		set = map[digest.Digest]struct{}{}
		c.m[repo] = set
	}
	if _, ok := set[d]; !ok {
		set[d] = struct{}{}
		c.n++
	}
}

func (c *linkCache) invalidate(repo string) {
	c.mu.Lock()
	c.n -= len(c.m[repo])
	delete(c.m, repo)
	c.mu.Unlock()
}

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

// passwordCache remembers recent successful password checks (bcrypt costs
// tens of milliseconds), keyed by user, password and stored hash, so a
// changed password or a deleted user misses.
type passwordCache struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (p *passwordCache) ok(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, found := p.m[key]
	return found && time.Since(at) < 5*time.Minute
}

func (p *passwordCache) add(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) > 10000 {
		p.m = map[string]time.Time{}
	}
	p.m[key] = time.Now()
}

func (p *passwordCache) forget(string) {
	p.mu.Lock()
	p.m = nil
	p.mu.Unlock()
}

// inNamespace lists a namespace's repositories, by name.
func (c *repoCache) inNamespace(ns string) []meta.Repo {
	c.mu.RLock()
	var out []meta.Repo
	for name, r := range c.m {
		if namespace(name) == ns {
			out = append(out, r)
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b meta.Repo) int { return strings.Compare(a.Name, b.Name) })
	return out
}
