package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// DeleteItem is one line of rmi's report: an untagged name or a deleted ID.
type DeleteItem struct {
	Untagged string `json:",omitempty"`
	Deleted  string `json:",omitempty"`
}

// conflict kinds, as moby's image_delete.go names them.
type conflictKind int

const (
	conflictRunningContainer conflictKind = 1 << iota
	conflictActiveReference
	conflictStoppedContainer

	conflictHard = conflictRunningContainer
	conflictSoft = conflictActiveReference | conflictStoppedContainer
)

type deleteConflict struct {
	hard    bool
	used    bool
	id      digest.Digest
	message string
}

func (c *deleteConflict) Error() string {
	force := "must be forced"
	if c.hard {
		force = "cannot be forced"
	}
	return fmt.Sprintf("conflict: unable to delete %s (%s) - %s", image.ShortID(c.id), force, c.message)
}

func (c *deleteConflict) Unwrap() error { return errdefs.ErrConflict }

// namedRef is a tag or digest reference to an image.
type namedRef struct {
	repo      string // full repository name
	full      string // full reference
	canonical bool   // a digest reference
}

// Remove deletes an image or one of its names with Docker's exact rules
// (moby daemon/images/image_delete.go): a name that is one of several only
// untags; the last name of an image a container uses is refused unless
// forced; an ID is refused while a stopped container uses it unless forced,
// and always while a running one does. Layers other images or containers
// use stay.
func (e *Engine) Remove(ctx context.Context, name string, force bool) ([]DeleteItem, error) {
	e.syncContainersOrWarn(ctx)
	var rm *removal
	res, err := e.store.Collect(ctx, func(tx *store.Tx) error {
		rm = &removal{e: e, tx: tx, name: name, force: force}
		return rm.run(ctx)
	})
	if err != nil {
		return nil, err
	}
	records := rm.records
	mine := map[digest.Digest]bool{}
	for _, c := range rm.removed {
		mine[c] = true
	}
	for _, l := range res.Layers {
		if mine[l.ChainID] {
			records = append(records, DeleteItem{Deleted: l.ChainID.String()})
		}
	}
	return records, nil
}

// removal is one run of Remove's transaction.
type removal struct {
	e     *Engine
	tx    *store.Tx
	name  string
	force bool

	id   digest.Digest
	refs []namedRef // the image's names still there
	ctrs []store.ContainerRef

	records []DeleteItem
	removed []digest.Digest // the chain IDs of the deleted image's layers
}

func (rm *removal) untagged(o namedRef) {
	rm.records = append(rm.records, DeleteItem{Untagged: rm.e.Familiar(o.full)})
}

// run removes the name, or the image if the name was its ID or its last
// name.
func (rm *removal) run(ctx context.Context) error {
	e, tx := rm.e, rm.tx
	r, err := e.resolve(ctx, tx, rm.name)
	if err != nil {
		return err
	}
	rm.id = r.ID
	img, err := tx.Image(ctx, rm.id)
	if err != nil {
		return err
	}
	if rm.refs, err = e.refsOf(ctx, tx, rm.id); err != nil {
		return err
	}
	if rm.ctrs, err = tx.Containers(ctx, rm.id); err != nil {
		return err
	}
	removedRepoRef := false
	if !isImageIDPrefix(rm.id.String(), rm.name) {
		if err := rm.untagName(ctx); err != nil || len(rm.refs) > 0 {
			return err
		}
		removedRepoRef = true
	} else if isSingleReference(rm.refs) {
		if err := rm.untagAll(ctx); err != nil {
			return err
		}
	}
	return rm.deleteImage(ctx, img, removedRepoRef)
}

// untagName removes the name Remove was given, and the repository's
// digest references with its last tag. The image's other names are left
// in rm.refs.
func (rm *removal) untagName(ctx context.Context) error {
	e, tx := rm.e, rm.tx
	if !rm.force && isSingleReference(rm.refs) && len(rm.ctrs) > 0 {
		return errdefs.Newf(errdefs.ErrConflict, "conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
			rm.name, shortContainerID(rm.ctrs[0].ID), image.ShortID(rm.id))
	}
	ref, err := e.ParseReference(rm.name)
	if err != nil {
		return err
	}
	if ref.Digest == "" {
		ref = ref.WithDefaultTag()
	}
	if err := removeRef(ctx, tx, ref); err != nil {
		return err
	}
	rm.records = append(rm.records, DeleteItem{Untagged: ref.FamiliarString(e.hub)})
	if rm.refs, err = e.refsOf(ctx, tx, rm.id); err != nil {
		return err
	}
	if ref.Digest != "" {
		return nil
	}
	// Untagging the last tag of a repository drops its digest references
	// too.
	for _, o := range rm.refs {
		if !o.canonical && o.repo == ref.Name() {
			return nil
		}
	}
	var remaining []namedRef
	for _, o := range rm.refs {
		if o.canonical && o.repo == ref.Name() {
			if err := e.removeNamed(ctx, tx, o); err != nil {
				return err
			}
			rm.untagged(o)
		} else {
			remaining = append(remaining, o)
		}
	}
	rm.refs = remaining
	return nil
}

// untagAll removes every name of an image removed by ID whose names are
// all of one repository, unless a container stands in the way.
func (rm *removal) untagAll(ctx context.Context) error {
	mask := conflictHard
	if !rm.force {
		mask |= conflictSoft &^ conflictActiveReference
	}
	if c := rm.e.checkConflict(ctx, rm.id, rm.refs, rm.ctrs, mask); c != nil {
		return c
	}
	for _, o := range rm.refs {
		if err := rm.e.removeNamed(ctx, rm.tx, o); err != nil {
			return err
		}
		rm.untagged(o)
	}
	rm.refs = nil
	return nil
}

// deleteImage deletes the image with its remaining names, unless a
// conflict forbids it; after an untag (removedRepoRef) such a conflict
// only leaves the image dangling.
func (rm *removal) deleteImage(ctx context.Context, img store.Image, removedRepoRef bool) error {
	mask := conflictHard
	if !rm.force {
		mask |= conflictSoft
	}
	if c := rm.e.checkConflict(ctx, rm.id, rm.refs, rm.ctrs, mask); c != nil {
		if removedRepoRef && (len(rm.refs) > 0 || c.used) {
			return nil // the untag was the whole job; the image stays, dangling
		}
		return c
	}
	for _, o := range rm.refs {
		if err := rm.e.removeNamed(ctx, rm.tx, o); err != nil {
			return err
		}
		rm.untagged(o)
	}
	if err := rm.tx.DeleteImage(ctx, rm.id); err != nil {
		return err
	}
	rm.records = append(rm.records, DeleteItem{Deleted: rm.id.String()})
	for _, l := range img.Layers {
		rm.removed = append(rm.removed, l.ChainID)
	}
	return nil
}

func (e *Engine) checkConflict(ctx context.Context, id digest.Digest, refs []namedRef, ctrs []store.ContainerRef, mask conflictKind) *deleteConflict {
	if mask&conflictRunningContainer != 0 {
		for _, c := range ctrs {
			if e.running(ctx, c.ID) {
				return &deleteConflict{hard: true, used: true, id: id, message: "image is being used by running container " + shortContainerID(c.ID)}
			}
		}
	}
	if mask&conflictActiveReference != 0 && len(refs) > 0 {
		return &deleteConflict{id: id, message: "image is referenced in multiple repositories"}
	}
	if mask&conflictStoppedContainer != 0 {
		for _, c := range ctrs {
			if !e.running(ctx, c.ID) {
				return &deleteConflict{used: true, id: id, message: "image is being used by stopped container " + shortContainerID(c.ID)}
			}
		}
	}
	return nil
}

func (e *Engine) refsOf(ctx context.Context, tx *store.Tx, id digest.Digest) ([]namedRef, error) {
	tags, err := tx.Tags(ctx, id)
	if err != nil {
		return nil, err
	}
	rds, err := tx.RepoDigests(ctx, id)
	if err != nil {
		return nil, err
	}
	var refs []namedRef
	for _, t := range tags {
		refs = append(refs, namedRef{repo: t.Repo, full: t.Ref})
	}
	for _, rd := range rds {
		refs = append(refs, namedRef{repo: rd.Repo, full: rd.Repo + "@" + rd.Digest.String(), canonical: true})
	}
	return refs, nil
}

func (e *Engine) removeNamed(ctx context.Context, tx *store.Tx, o namedRef) error {
	ref, err := e.ParseReference(o.full)
	if err != nil {
		return err
	}
	return removeRef(ctx, tx, ref)
}

func removeRef(ctx context.Context, tx *store.Tx, ref image.Reference) error {
	if ref.Digest != "" && ref.Tag == "" {
		return tx.RemoveRepoDigest(ctx, ref.Name(), ref.Digest)
	}
	return tx.RemoveTag(ctx, ref.String())
}

// isSingleReference is true when all references are of one repository and
// at most one is a tag; false for none.
func isSingleReference(refs []namedRef) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	var single *namedRef
	repos := map[string]bool{}
	for i, r := range refs {
		if r.canonical {
			repos[r.repo] = true
		} else if single == nil {
			repos[r.repo] = true
			single = &refs[i]
		} else {
			return false
		}
	}
	if single == nil {
		single = &refs[0]
	}
	return len(repos) == 1 && repos[single.repo]
}

// isImageIDPrefix tells whether the user named the image by (a prefix of) its ID.
func isImageIDPrefix(id, name string) bool {
	if strings.HasPrefix(id, name) {
		return true
	}
	if i := strings.IndexRune(id, ':'); i >= 0 {
		return strings.HasPrefix(id[i+1:], name)
	}
	return false
}

func shortContainerID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// PruneReport is what `image prune` removed.
type PruneReport struct {
	Deleted        []DeleteItem
	SpaceReclaimed int64
}

// Prune removes dangling images (all unused ones with all) that no
// container uses, as `docker image prune`.
func (e *Engine) Prune(ctx context.Context, all bool, keep func(ImageSummary) bool) (PruneReport, error) {
	var rep PruneReport
	imgs, err := e.Images(ctx)
	if err != nil {
		return rep, err
	}
	before, err := e.layerSizes(ctx)
	if err != nil {
		return rep, err
	}
	for _, img := range imgs {
		if img.Containers > 0 || (!all && !img.Dangling()) || (keep != nil && keep(img)) {
			continue
		}
		if img.Dangling() {
			items, err := e.Remove(ctx, img.ID.Encoded(), false)
			if err == nil {
				rep.Deleted = append(rep.Deleted, items...)
			}
			continue
		}
		for _, name := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
			items, err := e.Remove(ctx, name, false)
			if err == nil {
				rep.Deleted = append(rep.Deleted, items...)
			}
		}
	}
	after, err := e.layerSizes(ctx)
	if err != nil {
		return rep, err
	}
	for c, size := range before {
		if _, ok := after[c]; !ok {
			rep.SpaceReclaimed += size
		}
	}
	return rep, nil
}

func (e *Engine) layerSizes(ctx context.Context) (map[digest.Digest]int64, error) {
	sizes := map[digest.Digest]int64{}
	err := e.store.View(ctx, func(tx *store.Tx) error {
		imgs, err := tx.Images(ctx)
		for _, img := range imgs {
			for _, l := range img.Layers {
				sizes[l.ChainID] = l.Size
			}
		}
		return err
	})
	return sizes, err
}
