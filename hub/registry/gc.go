package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/meta"
)

// GCStats says what a collection removed.
type GCStats struct {
	Manifests int // untagged manifests no kept index or subject needs
	Links     int // repository links to blobs nothing there refers to
	Blobs     int // stored blobs no repository refers to
	Uploads   int // uploads idle for longer than UploadMaxAge
}

// CollectGarbage removes content that is unreachable and older than the
// grace period, while pushes and pulls go on: it takes no global lock, only
// the per-digest lock of each blob as it deletes it, which a manifest push
// also takes while it checks that the blobs it names exist.
//
// Reachable, per repository: every tagged manifest, the children of a kept
// index, and every referrer of a kept manifest (its subject). A blob is kept
// while a kept (or young) manifest names it, while a repository links it
// and the link or a look at the blob (HEAD, mount, upload) is younger than
// the grace period: so a pusher that HEAD-checked a blob and skipped its
// upload still finds it when the manifest arrives.
func (reg *Registry) CollectGarbage(ctx context.Context) (GCStats, error) {
	now := time.Now()
	g := &collection{reg: reg, cutoff: now.Add(-reg.cfg.GCGrace), manifests: map[gcKey]meta.Manifest{}}
	steps := []func(context.Context) error{g.mark, g.sweepManifests, g.sweepLinks, g.sweepBlobs}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return g.st, err
		}
	}
	g.sweepUploads(ctx, now.Add(-reg.cfg.UploadMaxAge))
	reg.touched.prune(g.cutoff)
	_ = reg.meta.TrimChanges(ctx, now.Add(-time.Hour))
	if st := g.st; st != (GCStats{}) {
		reg.log.Info("garbage collected", "manifests", st.Manifests, "links", st.Links, "blobs", st.Blobs, "uploads", st.Uploads, "duration", time.Since(now))
	}
	return g.st, nil
}

// collection is one run of the collector, step by step.
type collection struct {
	reg    *Registry
	cutoff time.Time
	st     GCStats

	manifests map[gcKey]meta.Manifest // every manifest, then the survivors
	kept      map[gcKey]bool          // reachable from a tag
	usedAny   map[digest.Digest]bool  // named by a surviving manifest anywhere
	linked    map[digest.Digest]bool  // still linked by some repository
}

type gcKey struct {
	repo string
	d    digest.Digest
}

func (g *collection) young(t time.Time) bool { return t.After(g.cutoff) }

func (g *collection) fresh(d digest.Digest) bool { return g.young(g.reg.touched.last(d)) }

// mark finds the manifests reachable from a tag: tagged ones, the children
// of a kept index, the referrers of a kept manifest.
func (g *collection) mark(ctx context.Context) error {
	reg := g.reg
	referrers := map[gcKey][]digest.Digest{}
	if err := reg.meta.WalkManifests(ctx, func(m meta.Manifest) error {
		g.manifests[gcKey{m.Repo, m.Digest}] = m
		if m.Subject != "" {
			k := gcKey{m.Repo, m.Subject}
			referrers[k] = append(referrers[k], m.Digest)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	g.kept = map[gcKey]bool{}
	var queue []gcKey
	keep := func(k gcKey) {
		if _, ok := g.manifests[k]; ok && !g.kept[k] {
			g.kept[k] = true
			queue = append(queue, k)
		}
	}
	if err := reg.meta.WalkTags(ctx, func(t meta.Tag) error { keep(gcKey{t.Repo, t.Digest}); return nil }); err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, c := range g.manifests[k].Children {
			keep(gcKey{k.repo, c})
		}
		for _, r := range referrers[k] {
			keep(gcKey{k.repo, r})
		}
	}
	return nil
}

// sweepManifests deletes unreachable manifests past the grace period; a
// manifest pushed again since the walk has a new time and stays.
func (g *collection) sweepManifests(ctx context.Context) error {
	reg := g.reg
	for k, m := range g.manifests {
		if g.kept[k] || g.young(m.Pushed) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Under the manifest's lock an index that names it cannot be
		// pushed halfway through this check.
		unlock := reg.locks.lock(k.d)
		cur, err := reg.meta.Manifest(ctx, k.repo, k.d)
		if err != nil || g.young(cur.Pushed) || reg.tagged(ctx, k.repo, k.d) || reg.referenced(ctx, k.repo, k.d) {
			unlock()
			continue
		}
		err = reg.meta.DeleteManifest(ctx, k.repo, k.d)
		unlock()
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("gc: %w", err)
		}
		delete(g.manifests, k)
		g.st.Manifests++
	}
	return nil
}

// sweepLinks removes repository links to blobs that no remaining manifest
// there names, that are old and were not looked at lately.
func (g *collection) sweepLinks(ctx context.Context) error {
	reg := g.reg
	used := map[gcKey]bool{}
	g.usedAny = map[digest.Digest]bool{}
	for k, m := range g.manifests {
		used[k], g.usedAny[k.d] = true, true
		for _, c := range m.Children {
			used[gcKey{k.repo, c}], g.usedAny[c] = true, true
		}
	}
	g.linked = map[digest.Digest]bool{}
	var stale []meta.BlobLink
	if err := reg.meta.WalkBlobLinks(ctx, func(l meta.BlobLink) error {
		if used[gcKey{l.Repo, l.Digest}] || g.young(l.Created) || g.fresh(l.Digest) {
			g.linked[l.Digest] = true
			return nil
		}
		stale = append(stale, l)
		return nil
	}); err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	for _, l := range stale {
		unlock := reg.locks.lock(l.Digest)
		cur, err := reg.meta.BlobLink(ctx, l.Repo, l.Digest)
		if err == nil && !g.young(cur.Created) && !g.fresh(l.Digest) && !reg.referenced(ctx, l.Repo, l.Digest) {
			if err := reg.meta.UnlinkBlob(ctx, l.Repo, l.Digest); err == nil {
				g.st.Links++
			}
		} else if err == nil {
			g.linked[l.Digest] = true
		}
		unlock()
	}
	return nil
}

// sweepBlobs deletes stored blobs nothing refers to, old and not looked at
// lately.
func (g *collection) sweepBlobs(ctx context.Context) error {
	reg := g.reg
	var doomed []blobs.Info
	if err := reg.blobs.Walk(ctx, func(b blobs.Info) error {
		if !g.usedAny[b.Digest] && !g.linked[b.Digest] && !g.young(b.ModTime) && !g.fresh(b.Digest) {
			doomed = append(doomed, b)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	for _, b := range doomed {
		if err := ctx.Err(); err != nil {
			return err
		}
		if reg.deleteBlobIfUnused(ctx, b.Digest, g.cutoff) {
			g.st.Blobs++
		}
	}
	return nil
}

// sweepUploads cancels uploads idle since before idle.
func (g *collection) sweepUploads(ctx context.Context, idle time.Time) {
	reg := g.reg
	var old []string
	_ = reg.blobs.WalkUploads(ctx, func(u blobs.UploadInfo) error {
		if u.UpdatedAt.Before(idle) {
			old = append(old, u.ID)
		}
		return nil
	})
	for _, id := range old {
		uctx, cancel := context.WithTimeout(ctx, time.Second)
		u, err := reg.blobs.Resume(uctx, id)
		cancel()
		if err != nil {
			continue // in use, or gone
		}
		if u.Info().UpdatedAt.Before(idle) && u.Cancel(ctx) == nil {
			g.st.Uploads++
		}
		u.Close()
	}
}

// tagged reports whether any tag of repo points at d.
func (reg *Registry) tagged(ctx context.Context, repo string, d digest.Digest) bool {
	tags, err := reg.meta.Tags(ctx, repo, "", 0)
	if err != nil {
		return true // when in doubt, keep
	}
	for _, t := range tags {
		if t.Digest == d {
			return true
		}
	}
	return false
}

// referenced asks the metadata now, under the digest's lock, whether a
// manifest pushed since the walk names d; on error it answers yes.
func (reg *Registry) referenced(ctx context.Context, repo string, d digest.Digest) bool {
	ok, err := reg.meta.ChildReferenced(ctx, repo, d)
	return ok || err != nil
}

// deleteBlobIfUnused deletes a blob under its lock, after checking again
// that nothing linked, uploaded or looked at it since the walk.
func (reg *Registry) deleteBlobIfUnused(ctx context.Context, d digest.Digest, cutoff time.Time) bool {
	unlock := reg.locks.lock(d)
	defer unlock()
	if reg.touched.last(d).After(cutoff) {
		return false
	}
	info, err := reg.blobs.Stat(ctx, d)
	if err != nil || info.ModTime.After(cutoff) || reg.referenced(ctx, "", d) {
		return false
	}
	if linked, err := reg.meta.BlobLinked(ctx, d); err != nil || linked {
		return false
	}
	return reg.blobs.Delete(ctx, d) == nil
}
