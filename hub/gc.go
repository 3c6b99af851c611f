package hub

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
func (h *Hub) CollectGarbage(ctx context.Context) (GCStats, error) {
	var st GCStats
	now := time.Now()
	cutoff := now.Add(-h.cfg.GCGrace)
	young := func(t time.Time) bool { return t.After(cutoff) }

	type key struct {
		repo string
		d    digest.Digest
	}
	manifests := map[key]meta.Manifest{}
	referrers := map[key][]digest.Digest{}
	if err := h.meta.WalkManifests(ctx, func(m meta.Manifest) error {
		manifests[key{m.Repo, m.Digest}] = m
		if m.Subject != "" {
			k := key{m.Repo, m.Subject}
			referrers[k] = append(referrers[k], m.Digest)
		}
		return nil
	}); err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	kept := map[key]bool{}
	var queue []key
	keep := func(k key) {
		if _, ok := manifests[k]; ok && !kept[k] {
			kept[k] = true
			queue = append(queue, k)
		}
	}
	if err := h.meta.WalkTags(ctx, func(t meta.Tag) error { keep(key{t.Repo, t.Digest}); return nil }); err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, c := range manifests[k].Children {
			keep(key{k.repo, c})
		}
		for _, r := range referrers[k] {
			keep(key{k.repo, r})
		}
	}

	// Unreachable manifests past the grace period go; a manifest pushed
	// again since the walk has a new time and stays.
	for k, m := range manifests {
		if kept[k] || young(m.Pushed) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		// Under the manifest's lock an index that names it cannot be
		// pushed halfway through this check.
		unlock := h.locks.lock(k.d)
		cur, err := h.meta.Manifest(ctx, k.repo, k.d)
		if err != nil || young(cur.Pushed) || h.tagged(ctx, k.repo, k.d) || h.referenced(ctx, k.repo, k.d) {
			unlock()
			continue
		}
		err = h.meta.DeleteManifest(ctx, k.repo, k.d)
		unlock()
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return st, fmt.Errorf("gc: %w", err)
		}
		delete(manifests, k)
		st.Manifests++
	}

	// What the remaining manifests name, per repository and overall.
	used := map[key]bool{}
	usedAny := map[digest.Digest]bool{}
	for k, m := range manifests {
		used[k], usedAny[k.d] = true, true
		for _, c := range m.Children {
			used[key{k.repo, c}], usedAny[c] = true, true
		}
	}
	fresh := func(d digest.Digest) bool { return young(h.touched.last(d)) }
	linked := map[digest.Digest]bool{}
	var stale []meta.BlobLink
	if err := h.meta.WalkBlobLinks(ctx, func(l meta.BlobLink) error {
		if used[key{l.Repo, l.Digest}] || young(l.Created) || fresh(l.Digest) {
			linked[l.Digest] = true
			return nil
		}
		stale = append(stale, l)
		return nil
	}); err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	for _, l := range stale {
		unlock := h.locks.lock(l.Digest)
		cur, err := h.meta.BlobLink(ctx, l.Repo, l.Digest)
		if err == nil && !young(cur.Created) && !fresh(l.Digest) && !h.referenced(ctx, l.Repo, l.Digest) {
			if err := h.meta.UnlinkBlob(ctx, l.Repo, l.Digest); err == nil {
				st.Links++
			}
		} else if err == nil {
			linked[l.Digest] = true
		}
		unlock()
	}

	// Blobs nothing refers to, old and not looked at lately.
	var doomed []blobs.Info
	if err := h.blobs.Walk(ctx, func(b blobs.Info) error {
		if !usedAny[b.Digest] && !linked[b.Digest] && !young(b.ModTime) && !fresh(b.Digest) {
			doomed = append(doomed, b)
		}
		return nil
	}); err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	for _, b := range doomed {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if h.deleteBlobIfUnused(ctx, b.Digest, cutoff) {
			st.Blobs++
		}
	}

	// Uploads idle for too long.
	idle := now.Add(-h.cfg.UploadMaxAge)
	var old []string
	_ = h.blobs.WalkUploads(ctx, func(u blobs.UploadInfo) error {
		if u.UpdatedAt.Before(idle) {
			old = append(old, u.ID)
		}
		return nil
	})
	for _, id := range old {
		uctx, cancel := context.WithTimeout(ctx, time.Second)
		u, err := h.blobs.Resume(uctx, id)
		cancel()
		if err != nil {
			continue // in use, or gone
		}
		if u.Info().UpdatedAt.Before(idle) && u.Cancel(ctx) == nil {
			st.Uploads++
		}
		u.Close()
	}

	h.touched.prune(cutoff)
	_ = h.meta.TrimChanges(ctx, now.Add(-time.Hour))
	h.metrics.GCRuns.Inc()
	h.metrics.GCBlobs.Add(float64(st.Blobs))
	h.metrics.GCManifests.Add(float64(st.Manifests))
	if st != (GCStats{}) {
		h.log.Info("garbage collected", "manifests", st.Manifests, "links", st.Links, "blobs", st.Blobs, "uploads", st.Uploads, "duration", time.Since(now))
	}
	return st, nil
}

// tagged reports whether any tag of repo points at d.
func (h *Hub) tagged(ctx context.Context, repo string, d digest.Digest) bool {
	tags, err := h.meta.Tags(ctx, repo, "", 0)
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
func (h *Hub) referenced(ctx context.Context, repo string, d digest.Digest) bool {
	ok, err := h.meta.ChildReferenced(ctx, repo, d)
	return ok || err != nil
}

// deleteBlobIfUnused deletes a blob under its lock, after checking again
// that nothing linked, uploaded or looked at it since the walk.
func (h *Hub) deleteBlobIfUnused(ctx context.Context, d digest.Digest, cutoff time.Time) bool {
	unlock := h.locks.lock(d)
	defer unlock()
	if h.touched.last(d).After(cutoff) {
		return false
	}
	info, err := h.blobs.Stat(ctx, d)
	if err != nil || info.ModTime.After(cutoff) || h.referenced(ctx, "", d) {
		return false
	}
	if linked, err := h.meta.BlobLinked(ctx, d); err != nil || linked {
		return false
	}
	return h.blobs.Delete(ctx, d) == nil
}
