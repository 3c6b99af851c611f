// Package metatest is the test suite every meta.Store runs (SQLite now,
// PostgreSQL later), so the hub sees the same behaviour from each.
package metatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/meta"
)

// Run runs the suite; newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) meta.Store) {
	t.Run("Repos", func(t *testing.T) { testRepos(t, newStore) })
	t.Run("ManifestsAndTags", func(t *testing.T) { testManifestsAndTags(t, newStore) })
	t.Run("Referrers", func(t *testing.T) { testReferrers(t, newStore) })
	t.Run("BlobLinks", func(t *testing.T) { testBlobLinks(t, newStore) })
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, newStore) })
	t.Run("Stars", func(t *testing.T) { testStars(t, newStore) })
	t.Run("ChangeLog", func(t *testing.T) { testChangeLog(t, newStore) })
	t.Run("ConcurrentWrites", func(t *testing.T) { testConcurrentWrites(t, newStore) })
	t.Run("Analyses", func(t *testing.T) { testAnalyses(t, newStore(t)) })
	t.Run("Revocations", func(t *testing.T) { testRevocations(t, newStore(t)) })
}

func testRepos(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.Repo(ctx, "library/welcome"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing repo: %v", err)
	}
	desc, full, badge, priv := "Hello", "# Hello\n", meta.BadgeOfficial, true
	r, err := s.UpdateRepo(ctx, "library/welcome", meta.RepoUpdate{Description: &desc, FullDescription: &full, Badge: &badge})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "library/welcome" || r.Description != desc || r.FullDescription != full || r.Badge != badge || r.Private || r.Created.IsZero() {
		t.Fatalf("repo = %+v", r)
	}
	r, err = s.UpdateRepo(ctx, "library/welcome", meta.RepoUpdate{Private: &priv})
	if err != nil || !r.Private || r.Description != desc {
		t.Fatalf("partial update = %+v, %v", r, err)
	}
	for _, n := range []string{"b/one", "a/two", "c/three"} {
		if _, err := s.UpdateRepo(ctx, n, meta.RepoUpdate{}); err != nil {
			t.Fatal(err)
		}
	}
	names, err := s.ListRepos(ctx, "", 2)
	if err != nil || !slices.Equal(names, []string{"a/two", "b/one"}) {
		t.Fatalf("ListRepos page 1 = %v, %v", names, err)
	}
	names, err = s.ListRepos(ctx, "b/one", 10)
	if err != nil || !slices.Equal(names, []string{"c/three", "library/welcome"}) {
		t.Fatalf("ListRepos page 2 = %v, %v", names, err)
	}
	if err := s.AddPulls(ctx, map[string]int64{"a/two": 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPulls(ctx, map[string]int64{"a/two": 2}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = s.WalkRepos(ctx, func(r meta.Repo) error {
		n++
		if r.Name == "a/two" && r.Pulls != 5 {
			return fmt.Errorf("pulls = %d, want 5", r.Pulls)
		}
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("WalkRepos saw %d: %v", n, err)
	}
}

func testManifestsAndTags(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	d := func(s string) digest.Digest { return digest.FromString(s) }
	s := newStore(t)
	m := meta.Manifest{Repo: "a/app", Digest: d("m1"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 123,
		Children: []digest.Digest{d("config"), d("layer")}, Annotations: map[string]string{"k": "v"}}
	if err := s.PutManifest(ctx, m, "latest", "v1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Manifest(ctx, "a/app", d("m1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != 123 || got.MediaType != m.MediaType || !slices.Equal(got.Children, m.Children) || got.Annotations["k"] != "v" || got.Pushed.IsZero() {
		t.Fatalf("manifest = %+v", got)
	}
	for _, c := range []struct {
		repo string
		d    digest.Digest
		want bool
	}{{"a/app", d("layer"), true}, {"", d("layer"), true}, {"b/other", d("layer"), false}, {"a/app", d("m1"), false}, {"", d("nothing"), false}} {
		if got, err := s.ChildReferenced(ctx, c.repo, c.d); err != nil || got != c.want {
			t.Errorf("ChildReferenced(%q, %s) = %v, %v; want %v", c.repo, c.d, got, err, c.want)
		}
	}
	if _, err := s.Manifest(ctx, "b/other", d("m1")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("manifest seen from another repository: %v", err)
	}
	r, err := s.Repo(ctx, "a/app")
	if err != nil || r.LastPushed.IsZero() {
		t.Fatalf("repo after push = %+v, %v", r, err)
	}
	tag, err := s.Tag(ctx, "a/app", "v1")
	if err != nil || tag.Digest != d("m1") {
		t.Fatalf("tag = %+v, %v", tag, err)
	}
	if err := s.PutManifest(ctx, meta.Manifest{Repo: "a/app", Digest: d("m2"), MediaType: m.MediaType, Size: 5}, "v2", "latest"); err != nil {
		t.Fatal(err)
	}
	tags, err := s.Tags(ctx, "a/app", "", 0)
	if err != nil || len(tags) != 3 || tags[0].Name != "latest" || tags[0].Digest != d("m2") || tags[1].Name != "v1" || tags[2].Name != "v2" {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
	tags, err = s.Tags(ctx, "a/app", "latest", 1)
	if err != nil || len(tags) != 1 || tags[0].Name != "v1" {
		t.Fatalf("tags page = %+v, %v", tags, err)
	}
	if tags, err := s.Tags(ctx, "nope/none", "", 0); err != nil || len(tags) != 0 {
		t.Fatalf("tags of a missing repo = %+v, %v", tags, err)
	}
	if err := s.DeleteTag(ctx, "a/app", "v2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTag(ctx, "a/app", "v2"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("second DeleteTag: %v", err)
	}
	// Deleting a manifest takes its tags and its references with it.
	if err := s.DeleteManifest(ctx, "a/app", d("m1")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ChildReferenced(ctx, "", d("layer")); got {
		t.Error("a deleted manifest still references its layer")
	}
	if _, err := s.Tag(ctx, "a/app", "v1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("tag of a deleted manifest: %v", err)
	}
	if _, err := s.Tag(ctx, "a/app", "latest"); err != nil {
		t.Fatalf("tag of another manifest went too: %v", err)
	}
	if err := s.DeleteManifest(ctx, "a/app", d("m1")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("second DeleteManifest: %v", err)
	}
}

func testReferrers(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	d := func(s string) digest.Digest { return digest.FromString(s) }
	s := newStore(t)
	subject := d("subject")
	for i, at := range []string{"application/vnd.example.sbom", "application/vnd.example.sig"} {
		m := meta.Manifest{Repo: "a/app", Digest: d(fmt.Sprint("ref", i)), MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: at, Size: 10, Subject: subject}
		if err := s.PutManifest(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutManifest(ctx, meta.Manifest{Repo: "b/other", Digest: d("ref-other"), MediaType: "x", Size: 1, Subject: subject}); err != nil {
		t.Fatal(err)
	}
	refs, err := s.Referrers(ctx, "a/app", subject)
	if err != nil || len(refs) != 2 {
		t.Fatalf("referrers = %+v, %v", refs, err)
	}
	if refs, err := s.Referrers(ctx, "a/app", d("none")); err != nil || len(refs) != 0 {
		t.Fatalf("referrers of nothing = %+v, %v", refs, err)
	}
}

func testBlobLinks(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	d := func(s string) digest.Digest { return digest.FromString(s) }
	s := newStore(t)
	if _, err := s.BlobLink(ctx, "a/app", d("b")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing link: %v", err)
	}
	if err := s.LinkBlob(ctx, "a/app", d("b")); err != nil {
		t.Fatal(err)
	}
	first, err := s.BlobLink(ctx, "a/app", d("b"))
	if err != nil || first.Created.IsZero() {
		t.Fatalf("link = %+v, %v", first, err)
	}
	if _, err := s.Repo(ctx, "a/app"); err != nil {
		t.Fatalf("linking did not create the repository: %v", err)
	}
	time.Sleep(2 * time.Millisecond)
	if err := s.LinkBlob(ctx, "a/app", d("b")); err != nil {
		t.Fatal(err)
	}
	again, _ := s.BlobLink(ctx, "a/app", d("b"))
	if !again.Created.After(first.Created) {
		t.Fatalf("relinking did not refresh the link time: %v then %v", first.Created, again.Created)
	}
	if _, err := s.BlobLink(ctx, "b/other", d("b")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatal("link visible from another repository")
	}
	if ok, err := s.BlobLinked(ctx, d("b")); err != nil || !ok {
		t.Fatalf("BlobLinked = %v, %v", ok, err)
	}
	if ok, _ := s.BlobLinked(ctx, d("c")); ok {
		t.Fatal("BlobLinked of an unlinked blob")
	}
	var links []meta.BlobLink
	if err := s.WalkBlobLinks(ctx, func(l meta.BlobLink) error { links = append(links, l); return nil }); err != nil || len(links) != 1 {
		t.Fatalf("WalkBlobLinks = %v, %v", links, err)
	}
	if err := s.UnlinkBlob(ctx, "a/app", d("b")); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlinkBlob(ctx, "a/app", d("b")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("second unlink: %v", err)
	}
}

func testAccounts(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	s := newStore(t)
	if err := s.CreateUser(ctx, meta.User{Name: "alice", PasswordHash: "h1", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, meta.User{Name: "alice", PasswordHash: "h2"}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("duplicate user: %v", err)
	}
	if err := s.CreateOrg(ctx, "alice"); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("org named like a user: %v", err)
	}
	if err := s.CreateUser(ctx, meta.User{Name: "bob", PasswordHash: "hb"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOrg(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, meta.User{Name: "team"}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("user named like an org: %v", err)
	}
	u, err := s.User(ctx, "alice")
	if err != nil || u.PasswordHash != "h1" || !u.Admin {
		t.Fatalf("user = %+v, %v", u, err)
	}
	if err := s.SetPassword(ctx, "alice", "h3"); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.User(ctx, "alice"); u.PasswordHash != "h3" {
		t.Fatalf("password not changed: %+v", u)
	}
	if err := s.SetPassword(ctx, "nobody", "x"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("SetPassword of nobody: %v", err)
	}
	testSignOuts(t, s)
	if err := s.AddMember(ctx, "team", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(ctx, "team", "nobody"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("adding a missing user: %v", err)
	}
	if ok, _ := s.IsOrg(ctx, "team"); !ok {
		t.Fatal("IsOrg(team) = false")
	}
	if ok, _ := s.IsOrg(ctx, "bob"); ok {
		t.Fatal("IsOrg(bob) = true")
	}
	m, err := s.Members(ctx, "team")
	if err != nil || !slices.Equal(m, []string{"bob"}) {
		t.Fatalf("members = %v, %v", m, err)
	}
	orgs, err := s.UserOrgs(ctx, "bob")
	if err != nil || !slices.Equal(orgs, []string{"team"}) {
		t.Fatalf("UserOrgs = %v, %v", orgs, err)
	}
	if err := s.RemoveMember(ctx, "team", "bob"); err != nil {
		t.Fatal(err)
	}
	if orgs, _ := s.UserOrgs(ctx, "bob"); len(orgs) != 0 {
		t.Fatalf("still a member: %v", orgs)
	}
	users, err := s.Users(ctx)
	if err != nil || len(users) != 2 {
		t.Fatalf("users = %v, %v", users, err)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(ctx, "bob"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
}

func testStars(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	s := newStore(t)
	if err := s.Star(ctx, "alice", "a/app"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("star of a missing repository: %v", err)
	}
	if _, err := s.UpdateRepo(ctx, "a/app", meta.RepoUpdate{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Star(ctx, "alice", "a/app"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Star(ctx, "bob", "a/app"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Repo(ctx, "a/app"); r.Stars != 2 {
		t.Fatalf("stars = %d, want 2", r.Stars)
	}
	if ok, _ := s.Starred(ctx, "alice", "a/app"); !ok {
		t.Fatal("Starred = false")
	}
	if list, _ := s.StarredBy(ctx, "alice"); !slices.Equal(list, []string{"a/app"}) {
		t.Fatalf("StarredBy = %v", list)
	}
	for range 2 {
		if err := s.Unstar(ctx, "alice", "a/app"); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := s.Repo(ctx, "a/app"); r.Stars != 1 {
		t.Fatalf("stars after unstar = %d, want 1", r.Stars)
	}
}

func testChangeLog(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	d := func(s string) digest.Digest { return digest.FromString(s) }
	s := newStore(t)
	last, err := s.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutManifest(ctx, meta.Manifest{Repo: "a/app", Digest: d("m"), MediaType: "x", Size: 1}, "latest"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTag(ctx, "a/app", "latest"); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Changes(ctx, last, 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for i, c := range cs {
		if c.Name != "a/app" {
			t.Errorf("change %+v names another thing", c)
		}
		if i > 0 && c.Seq <= cs[i-1].Seq {
			t.Errorf("changes out of order: %+v", cs)
		}
		kinds[c.Kind] = true
	}
	if !kinds[meta.ChangeTags] || !kinds[meta.ChangeManifests] {
		t.Fatalf("changes = %+v", cs)
	}
	newest, _ := s.LastChange(ctx)
	if err := s.TrimChanges(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if after, _ := s.LastChange(ctx); after != newest {
		t.Fatalf("trimming lost the newest sequence: %d, want %d", after, newest)
	}
}

func testConcurrentWrites(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	d := func(s string) digest.Digest { return digest.FromString(s) }
	s := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.PutManifest(ctx, meta.Manifest{Repo: "a/app", Digest: d(fmt.Sprint(i)), MediaType: "x", Size: 1}, fmt.Sprint("t", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if tags, _ := s.Tags(ctx, "a/app", "", 0); len(tags) != 40 {
		t.Fatalf("%d tags after 40 concurrent pushes", len(tags))
	}
}

// testSignOuts checks that sign-outs are counted per user, and refused
// for no user. It expects alice and bob.
func testSignOuts(t *testing.T, s meta.Store) {
	ctx := context.Background()
	if u, _ := s.User(ctx, "alice"); u.SignOuts != 0 {
		t.Fatalf("sign-outs of a new user: %d", u.SignOuts)
	}
	for range 2 {
		if err := s.SignOut(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if u, _ := s.User(ctx, "alice"); u.SignOuts != 2 {
		t.Fatalf("sign-outs after two: %d", u.SignOuts)
	}
	if u, _ := s.User(ctx, "bob"); u.SignOuts != 0 {
		t.Fatalf("bob's sign-outs after alice's: %d", u.SignOuts)
	}
	if err := s.SignOut(ctx, "nobody"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("SignOut of nobody: %v", err)
	}
}
