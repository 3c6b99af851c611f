package cache_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/cache"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/meta/metatest"
)

func openSQLite(t *testing.T) meta.Store {
	t.Helper()
	s, err := meta.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// index stands for the hub's search index: what the cache tells onRepo.
type fakeIndex struct {
	mu sync.Mutex
	m  map[string]meta.Repo
}

func (x *fakeIndex) get(name string) meta.Repo {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.m[name]
}

func newCache(t *testing.T, s meta.Store) (*cache.Store, *fakeIndex) {
	t.Helper()
	x := &fakeIndex{m: map[string]meta.Repo{}}
	c, err := cache.New(context.Background(), s, func(name string, r meta.Repo, ok bool) {
		x.mu.Lock()
		defer x.mu.Unlock()
		if ok {
			x.m[name] = r
		} else {
			delete(x.m, name)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, x
}

// The wrapper is a meta.Store like any other.
func TestStoreSuite(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		c, _ := newCache(t, openSQLite(t))
		return c
	})
}

// TestWritesReachTheCache writes through the store and reads the change
// back through the cache at once: no caller drops an entry by hand.
func TestWritesReachTheCache(t *testing.T) {
	ctx := context.Background()
	c, index := newCache(t, openSQLite(t))
	const repo = "alice/app"
	if err := c.CreateUser(ctx, meta.User{Name: "bob", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}

	desc := "first"
	if _, err := c.UpdateRepo(ctx, repo, meta.RepoUpdate{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	if r, ok := c.Lookup(repo); !ok || r.Description != "first" {
		t.Fatalf("after UpdateRepo, Lookup = %+v, %v", r, ok)
	}
	desc = "second"
	if _, err := c.UpdateRepo(ctx, repo, meta.RepoUpdate{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Lookup(repo); r.Description != "second" || index.get(repo).Description != "second" {
		t.Fatalf("after a second UpdateRepo, Lookup = %+v, index = %+v", r, index.get(repo))
	}
	if got := c.InNamespace("alice"); len(got) != 1 || got[0].Description != "second" {
		t.Fatalf("InNamespace = %+v", got)
	}

	if err := c.Star(ctx, "bob", repo); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Lookup(repo); r.Stars != 1 {
		t.Fatalf("after Star, stars = %d", r.Stars)
	}
	if err := c.Unstar(ctx, "bob", repo); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Lookup(repo); r.Stars != 0 {
		t.Fatalf("after Unstar, stars = %d", r.Stars)
	}
	if err := c.AddPulls(ctx, map[string]int64{repo: 3}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Lookup(repo); r.Pulls != 3 || index.get(repo).Pulls != 3 {
		t.Fatalf("after AddPulls, Lookup = %+v, index = %+v", r, index.get(repo))
	}

	// A manifest cached under its tag is dropped when the tag moves or goes.
	one, two := digest.FromString("one"), digest.FromString("two")
	for _, d := range []digest.Digest{one, two} {
		if err := c.PutManifest(ctx, meta.Manifest{Repo: repo, Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 3}, "v1"); err != nil {
			t.Fatal(err)
		}
		if r, _ := c.Lookup(repo); r.LastPushed.IsZero() {
			t.Fatalf("after PutManifest, last pushed is zero")
		}
		if m, _ := c.CachedManifest(repo, "v1"); m != nil && m.Digest != d {
			t.Fatalf("after PutManifest of %s, v1 is cached as %s", d, m.Digest)
		}
		_, gen := c.CachedManifest(repo, "v1")
		c.KeepManifest(repo, "v1", gen, cache.NewManifest(d, "application/vnd.oci.image.manifest.v1+json", []byte("one")))
		if m, _ := c.CachedManifest(repo, "v1"); m == nil || m.Digest != d {
			t.Fatalf("KeepManifest did not keep %s: %+v", d, m)
		}
	}
	if err := c.DeleteTag(ctx, repo, "v1"); err != nil {
		t.Fatal(err)
	}
	if m, _ := c.CachedManifest(repo, "v1"); m != nil {
		t.Fatalf("after DeleteTag, v1 is still cached as %s", m.Digest)
	}
	_, gen := c.CachedManifest(repo, two.String())
	c.KeepManifest(repo, two.String(), gen, cache.NewManifest(two, "x", nil))
	if err := c.DeleteManifest(ctx, repo, two); err != nil {
		t.Fatal(err)
	}
	if m, _ := c.CachedManifest(repo, two.String()); m != nil {
		t.Fatalf("after DeleteManifest, %s is still cached", two)
	}

	// A link the cache has seen is forgotten when it is removed.
	blob := digest.FromString("blob")
	if err := c.LinkBlob(ctx, repo, blob); err != nil {
		t.Fatal(err)
	}
	if !c.HasLink(ctx, repo, blob) {
		t.Fatal("after LinkBlob, HasLink = false")
	}
	if err := c.UnlinkBlob(ctx, repo, blob); err != nil {
		t.Fatal(err)
	}
	if c.HasLink(ctx, repo, blob) {
		t.Fatal("after UnlinkBlob, HasLink = true")
	}
}

// TestStaleFillDropped: a manifest read before a write and kept after it
// is not cached, so a pull racing a tag update cannot put the old one back.
func TestStaleFillDropped(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t, openSQLite(t))
	d := digest.FromString("m")
	_, gen := c.CachedManifest("alice/app", "v1")
	if err := c.PutManifest(ctx, meta.Manifest{Repo: "alice/app", Digest: d, MediaType: "x", Size: 1}, "v1"); err != nil {
		t.Fatal(err)
	}
	c.KeepManifest("alice/app", "v1", gen, cache.NewManifest(digest.FromString("old"), "x", nil))
	if m, _ := c.CachedManifest("alice/app", "v1"); m != nil {
		t.Fatalf("a fill from before the write was kept: %s", m.Digest)
	}
}

// TestApplyFromAnotherProcess: a change written past the cache (another
// process on the same database) reaches it through the change log.
func TestApplyFromAnotherProcess(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	c, index := newCache(t, s)
	last, err := s.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desc := "elsewhere"
	if _, err := s.UpdateRepo(ctx, "alice/app", meta.RepoUpdate{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup("alice/app"); ok {
		t.Fatal("the cache saw a write made past it before the change log said so")
	}
	cs, err := s.Changes(ctx, last, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range cs {
		c.Apply(ctx, ch)
	}
	if r, ok := c.Lookup("alice/app"); !ok || r.Description != "elsewhere" || index.get("alice/app").Description != "elsewhere" {
		t.Fatalf("after Apply, Lookup = %+v, %v", r, ok)
	}
}

// slowRepo holds one Repo read after it has read the record, until
// released: a change-log reread that read before a write and would store
// after it.
type slowRepo struct {
	meta.Store
	hold             atomic.Bool
	reading, release chan struct{}
}

func (s *slowRepo) Repo(ctx context.Context, name string) (meta.Repo, error) {
	r, err := s.Store.Repo(ctx, name)
	if s.hold.CompareAndSwap(true, false) {
		close(s.reading)
		<-s.release
	}
	return r, err
}

// TestStaleRereadDropped: a reread that read the record before a write
// and finishes after it does not put the old record back.
func TestStaleRereadDropped(t *testing.T) {
	ctx := context.Background()
	s := &slowRepo{Store: openSQLite(t), reading: make(chan struct{}), release: make(chan struct{})}
	c, index := newCache(t, s)
	const repo = "alice/app"
	old, fresh := "old", "new"
	if _, err := c.UpdateRepo(ctx, repo, meta.RepoUpdate{Description: &old}); err != nil {
		t.Fatal(err)
	}
	s.hold.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Refresh(ctx, repo) // as the change log's follower would
	}()
	<-s.reading
	if _, err := c.UpdateRepo(ctx, repo, meta.RepoUpdate{Description: &fresh}); err != nil {
		t.Fatal(err)
	}
	close(s.release)
	<-done
	if r, _ := c.Lookup(repo); r.Description != "new" || index.get(repo).Description != "new" {
		t.Fatalf("after a stale reread: Lookup %q, index %q", r.Description, index.get(repo).Description)
	}
}
