// Package cache keeps what pulls read most in memory, in front of the
// hub's stores, the way distribution's storage/cache wraps a blob
// descriptor service: a Store is a meta.Store whose own writes drop what
// they make stale, so no handler keeps a cache by hand after it writes.
//
// What it holds: every repository's record (pulls check privacy here, not
// in the database), manifests ready to serve by repository and reference,
// and which repository may serve which blob (positively only). Blobs wraps
// a blobs.Store the same way for small blobs. Changes made by another
// process (an operator command, another hub on the same database) arrive
// through the change log: the hub hands each entry to Store.Apply.
package cache

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/meta"
)

// Store is a meta.Store with caches in front of its reads.
type Store struct {
	meta.Store
	repos     *repoCache
	manifests *manifestCache
	links     *linkCache
	onRepo    func(name string, r meta.Repo, ok bool)
}

// New wraps s and reads every repository into memory. onRepo, if not nil,
// hears of each repository the cache (re)reads, with ok false for one that
// is gone: the hub keeps its search index in step with it. Concurrent
// writes call it concurrently.
func New(ctx context.Context, s meta.Store, onRepo func(name string, r meta.Repo, ok bool)) (*Store, error) {
	if onRepo == nil {
		onRepo = func(string, meta.Repo, bool) {}
	}
	c := &Store{Store: s, repos: newRepoCache(), manifests: newManifestCache(), links: newLinkCache(), onRepo: onRepo}
	err := s.WalkRepos(ctx, func(r meta.Repo) error {
		c.repos.put(r)
		onRepo(r.Name, r, true)
		return nil
	})
	return c, err
}

// Unwrap is the store underneath, for what must see the database itself.
func (c *Store) Unwrap() meta.Store { return c.Store }

// Lookup returns a repository's record from memory.
func (c *Store) Lookup(name string) (meta.Repo, bool) { return c.repos.get(name) }

// InNamespace lists a namespace's repositories (names are canonical, so
// the namespace is the first component) from memory, by name.
func (c *Store) InNamespace(ns string) []meta.Repo {
	out := c.repos.filter(func(name string) bool {
		first, _, _ := strings.Cut(name, "/")
		return first == ns
	})
	slices.SortFunc(out, func(a, b meta.Repo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Refresh rereads one repository into memory.
func (c *Store) Refresh(ctx context.Context, name string) {
	gen := c.repos.begin(name)
	r, err := c.Store.Repo(ctx, name)
	c.repos.settle(name, gen, r, err == nil, c.onRepo)
}

// Apply drops what a change in the log made stale; the change may have
// come from this process or another.
func (c *Store) Apply(ctx context.Context, ch meta.Change) {
	switch ch.Kind {
	case meta.ChangeRepo, meta.ChangeTags, meta.ChangeManifests:
		c.manifests.invalidate(ch.Name)
		c.Refresh(ctx, ch.Name)
	case meta.ChangeBlobs:
		c.links.invalidate(ch.Name)
	}
}

// Manifest is a manifest ready to send: body and header values.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Body      []byte
	Length    string // len(Body), formatted once
}

// CachedManifest returns the manifest cached for a reference, or nil, and
// the repository's generation to hand back to KeepManifest.
func (c *Store) CachedManifest(repo, ref string) (*Manifest, uint64) {
	return c.manifests.get(repo, ref)
}

// KeepManifest caches a manifest read at generation gen; it is dropped if
// the repository changed since.
func (c *Store) KeepManifest(repo, ref string, gen uint64, m *Manifest) {
	c.manifests.put(repo, ref, gen, m)
}

// HasLink reports whether repo may serve d.
func (c *Store) HasLink(ctx context.Context, repo string, d digest.Digest) bool {
	if c.links.has(repo, d) {
		return true
	}
	if _, err := c.Store.BlobLink(ctx, repo, d); err != nil {
		return false
	}
	c.links.add(repo, d)
	return true
}

// The writes below go to the store first and then, if it took them, drop
// or refresh what they touched: that order keeps a racing reader from
// caching the old value (see manifestCache).

func (c *Store) UpdateRepo(ctx context.Context, name string, u meta.RepoUpdate) (meta.Repo, error) {
	r, err := c.Store.UpdateRepo(ctx, name, u)
	if err == nil {
		// Reread rather than keep r: a reread that begins after the write
		// wins over one that began before it (see repoCache), and sees
		// any write that committed in between too.
		c.Refresh(ctx, r.Name)
	}
	return r, err
}

func (c *Store) AddPulls(ctx context.Context, counts map[string]int64) error {
	if err := c.Store.AddPulls(ctx, counts); err != nil {
		return err
	}
	for name := range counts {
		c.Refresh(ctx, name)
	}
	return nil
}

func (c *Store) PutManifest(ctx context.Context, m meta.Manifest, tags ...string) error {
	if err := c.Store.PutManifest(ctx, m, tags...); err != nil {
		return err
	}
	c.repoChanged(ctx, m.Repo)
	return nil
}

func (c *Store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	if err := c.Store.DeleteManifest(ctx, repo, d); err != nil {
		return err
	}
	c.repoChanged(ctx, repo)
	return nil
}

func (c *Store) DeleteTag(ctx context.Context, repo, name string) error {
	if err := c.Store.DeleteTag(ctx, repo, name); err != nil {
		return err
	}
	c.repoChanged(ctx, repo)
	return nil
}

func (c *Store) LinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := c.Store.LinkBlob(ctx, repo, d); err != nil {
		return err
	}
	c.links.add(repo, d)
	if _, known := c.repos.get(repo); !known {
		c.Refresh(ctx, repo) // linking creates the repository
	}
	return nil
}

func (c *Store) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := c.Store.UnlinkBlob(ctx, repo, d); err != nil {
		return err
	}
	c.links.invalidate(repo)
	return nil
}

func (c *Store) Star(ctx context.Context, user, repo string) error {
	if err := c.Store.Star(ctx, user, repo); err != nil {
		return err
	}
	c.Refresh(ctx, repo)
	return nil
}

func (c *Store) Unstar(ctx context.Context, user, repo string) error {
	if err := c.Store.Unstar(ctx, user, repo); err != nil {
		return err
	}
	c.Refresh(ctx, repo)
	return nil
}

// repoChanged drops a repository's manifests after a write that may have
// moved its tags, and rereads its record (last pushed).
func (c *Store) repoChanged(ctx context.Context, repo string) {
	c.manifests.invalidate(repo)
	c.Refresh(ctx, repo)
}

// NewManifest makes a manifest ready to send.
func NewManifest(d digest.Digest, mediaType string, body []byte) *Manifest {
	return &Manifest{Digest: d, MediaType: mediaType, Body: body, Length: strconv.Itoa(len(body))}
}
