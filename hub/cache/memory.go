package cache

import (
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/meta"
)

// repoCache holds every repository's record: pulls check privacy here
// instead of asking the database. Each name has a generation, so that of
// two rereads racing (a write's and the change log's) the one that began
// last wins: an earlier one may have read the record before the write.
type repoCache struct {
	mu  sync.RWMutex
	m   map[string]meta.Repo
	gen map[string]uint64
}

func newRepoCache() *repoCache {
	return &repoCache{m: map[string]meta.Repo{}, gen: map[string]uint64{}}
}

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

// begin starts a reread of name, before the record is read.
func (c *repoCache) begin(name string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[name]++
	return c.gen[name]
}

// settle keeps a reread's record (ok false: the repository is gone) unless
// a later one began, and tells onRepo under the lock, so that the search
// index sees the records in the same order.
func (c *repoCache) settle(name string, gen uint64, r meta.Repo, ok bool, onRepo func(string, meta.Repo, bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen[name] != gen {
		return
	}
	if ok {
		c.m[name] = r
	} else {
		delete(c.m, name)
	}
	onRepo(name, r, ok)
}

func (c *repoCache) filter(keep func(name string) bool) []meta.Repo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []meta.Repo
	for name, r := range c.m {
		if keep(name) {
			out = append(out, r)
		}
	}
	return out
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
	refs map[string]*Manifest
}

func newManifestCache() *manifestCache { return &manifestCache{repos: map[string]*repoManifests{}} }

func (c *manifestCache) get(repo, ref string) (*Manifest, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	rm := c.repos[repo]
	if rm == nil {
		return nil, 0
	}
	return rm.refs[ref], rm.gen
}

func (c *manifestCache) put(repo, ref string, gen uint64, m *Manifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rm := c.repos[repo]
	if rm == nil {
		if gen != 0 {
			return
		}
		rm = &repoManifests{refs: map[string]*Manifest{}}
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
	rm.refs = map[string]*Manifest{}
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
