package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/store"
)

// PullOptions configure Pull.
type PullOptions struct {
	// Registry is the client (credentials, insecure registries); nil is an
	// anonymous client with the defaults.
	Registry *client.Client
	// Platform picks the image of a multi-platform index; nil means this
	// machine's. When set, a single-platform image must match it.
	Platform *ocispec.Platform
	// Progress hears Docker's pull messages, per layer and for the whole.
	Progress ProgressFunc
}

// PullResult is what Pull stored.
type PullResult struct {
	Ref    image.Reference // as pulled: with the default tag when none was given
	ID     digest.Digest
	Digest digest.Digest // what the reference resolved to: the index of a multi-platform image
	// Updated is false when the name already pointed at this image
	// (Docker's "Image is up to date").
	Updated bool
}

// Pull fetches an image from its registry into the store, as `docker pull`:
// every layer downloads at once (bounded), each streamed through hashing,
// decompression and extraction into its own directory, visible only once
// its digest and diff ID match. Layers already present are not fetched;
// interrupted downloads resume where they stopped, also across runs.
// When Pull returns, the image is complete and recorded, or nothing new is
// recorded at all.
func (e *Engine) Pull(ctx context.Context, name string, o PullOptions) (PullResult, error) {
	ref, err := e.ParseReference(name)
	if err != nil {
		return PullResult{}, err
	}
	ref = ref.WithDefaultTag()
	res := PullResult{Ref: ref}
	c := o.Registry
	if c == nil {
		c = client.New(client.Options{})
	}
	send := o.Progress
	repo := c.Repository(ref.Hub, ref.Path)
	im, err := e.resolvePull(ctx, repo, ref, o.Platform, send)
	if err != nil {
		return res, err
	}
	res.Digest, res.ID = im.top, im.man.Config.Digest
	jobs, err := newPullJobs(im.man, im.cfg)
	if err != nil {
		return res, err
	}
	lease, err := e.store.NewLease(ctx)
	if err != nil {
		return res, err
	}
	defer lease.Release(ctx)
	quiet, err := e.markPresent(ctx, lease, im, jobs)
	if err != nil {
		return res, err
	}
	// The layers of one pull share one budget of unpacked bytes: the
	// store's cap, or the space free now if that is less.
	budget, err := e.store.NewBudget()
	if err != nil {
		return res, err
	}
	for _, j := range jobs {
		j.budget = budget
	}
	if err := e.pullLayers(ctx, repo, jobs, quiet, send); err != nil {
		return res, err
	}
	if res.Updated, err = e.recordPull(ctx, repo, ref, res, im, jobs); err != nil {
		return res, err
	}
	send.send(Progress{Status: "Digest: " + res.Digest.String()})
	if res.Updated {
		send.send(Progress{Status: "Status: Downloaded newer image for " + ref.FamiliarString(e.hub)})
	} else {
		send.send(Progress{Status: "Status: Image is up to date for " + ref.FamiliarString(e.hub)})
	}
	return res, nil
}

// pulledImage is what a pull learns from the registry before any layer:
// the manifest for the platform, the indexes that led to it, the config.
type pulledImage struct {
	top     digest.Digest // what the reference resolved to
	man     *ocispec.Manifest
	manDesc client.Manifest
	indexes []client.Manifest
	cfgRaw  []byte
	cfg     *image.Config
}

// resolvePull fetches the reference's manifest, picks the platform's image
// from an index, and fetches and checks its config.
func (e *Engine) resolvePull(ctx context.Context, repo *client.Repository, ref image.Reference, platform *ocispec.Platform, send ProgressFunc) (pulledImage, error) {
	var im pulledImage
	tagOrDigest := ref.Tag
	if ref.Digest != "" {
		tagOrDigest = ref.Digest.String()
	}
	top, err := repo.Manifest(ctx, tagOrDigest)
	if err != nil {
		return im, e.pullError(ref, err)
	}
	send.send(Progress{ID: tagOrDigest, Status: "Pulling from " + ref.Path})
	im.top = top.Digest
	want := image.DefaultPlatform()
	if platform != nil {
		want = *platform
	}
	resolved, err := repo.SelectPlatform(ctx, top, want)
	if err != nil {
		return im, err
	}
	im.man, im.manDesc, im.indexes = resolved.Image, resolved.Manifest, resolved.Indexes
	if !image.IsConfig(im.man.Config.MediaType) {
		return im, fmt.Errorf("%s is not a container image (its config is %q): %w", ref.FamiliarString(e.hub), im.man.Config.MediaType, errdefs.ErrUnsupported)
	}
	if im.cfgRaw, err = repo.FetchBlob(ctx, im.man.Config, maxConfigSize); err != nil {
		return im, fmt.Errorf("fetching the config of %s: %w", ref.FamiliarString(e.hub), err)
	}
	if im.cfg, err = image.ParseConfig(im.cfgRaw); err != nil {
		return im, err
	}
	if platform != nil && len(im.indexes) == 0 {
		have := ocispec.Platform{OS: im.cfg.OS, Architecture: im.cfg.Architecture, Variant: im.cfg.Variant}
		if !image.MatchPlatform(*platform, have) {
			return im, fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s: %w",
				ref.FamiliarString(e.hub), image.FormatPlatform(*platform), image.FormatPlatform(have), errdefs.ErrNotFound)
		}
	}
	if len(im.man.Layers) != len(im.cfg.RootFS.DiffIDs) {
		return im, fmt.Errorf("manifest %s has %d layers, its config %d: %w", im.manDesc.Digest, len(im.man.Layers), len(im.cfg.RootFS.DiffIDs), errdefs.ErrInvalid)
	}
	return im, nil
}

// newPullJobs makes a job per layer, each knowing its parent and the
// earlier layer with the same blob, if any.
func newPullJobs(man *ocispec.Manifest, cfg *image.Config) ([]*pullJob, error) {
	jobs := make([]*pullJob, len(man.Layers))
	chains := image.ChainIDs(cfg.RootFS.DiffIDs)
	for i, l := range man.Layers {
		if _, err := image.LayerCompression(l.MediaType); err != nil {
			return nil, err
		}
		j := &pullJob{desc: l, id: image.ShortID(l.Digest), diffID: cfg.RootFS.DiffIDs[i], chainID: chains[i], done: make(chan struct{})}
		if i > 0 {
			j.parent, j.parentID = jobs[i-1], chains[i-1]
		}
		for _, earlier := range jobs[:i] {
			if earlier.desc.Digest == l.Digest && j.same == nil {
				j.same = earlier
			}
		}
		jobs[i] = j
	}
	return jobs, nil
}

// markPresent leases the image's blobs and layers, so that no garbage
// collection takes them during the pull, and marks the jobs of layers
// already present to be skipped. It reports whether the pull is to be
// quiet about them: Docker says nothing about the layers of an image it
// already has.
func (e *Engine) markPresent(ctx context.Context, lease *store.Lease, im pulledImage, jobs []*pullJob) (quiet bool, err error) {
	blobs := []digest.Digest{im.man.Config.Digest, im.manDesc.Digest}
	for _, ix := range im.indexes {
		blobs = append(blobs, ix.Digest)
	}
	chains := make([]digest.Digest, len(jobs))
	for i, j := range jobs {
		blobs = append(blobs, j.desc.Digest)
		chains[i] = j.chainID
	}
	_, haveLayer, err := lease.Acquire(ctx, blobs, chains)
	if err != nil {
		return false, err
	}
	known := false
	_ = e.store.View(ctx, func(tx *store.Tx) error {
		_, err := tx.Image(ctx, im.man.Config.Digest)
		known = err == nil
		return nil
	})
	allPresent := true
	for _, j := range jobs {
		if haveLayer[j.chainID] && (e.store.HasBlob(j.desc.Digest) || e.hasLayerTar(ctx, j.chainID, j.diffID)) {
			j.skip = true
			if info, err := e.store.Layer(j.chainID); err == nil {
				j.size = info.Size
			}
		} else {
			allPresent = false
		}
	}
	return known && allPresent, nil
}

// recordPull stores the config and manifests and records the image, its
// layers' blobs, its tag or digest. It reports whether the name now
// points at another image than before.
func (e *Engine) recordPull(ctx context.Context, repo *client.Repository, ref image.Reference, res PullResult, im pulledImage, jobs []*pullJob) (updated bool, err error) {
	if _, err := e.store.WriteBlob(ctx, im.cfgRaw); err != nil {
		return false, err
	}
	keep := append([]client.Manifest{im.manDesc}, im.indexes...)
	for _, m := range keep {
		if _, err := e.store.WriteBlob(ctx, m.Raw); err != nil {
			return false, err
		}
	}
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		rec := store.Image{ID: res.ID, Created: created(im.cfg), Platform: platformOf(im.cfg), Manifest: im.manDesc.Digest, ManifestMediaType: im.manDesc.MediaType}
		for _, j := range jobs {
			rec.Layers = append(rec.Layers, store.ImageLayer{DiffID: j.diffID, ChainID: j.chainID, Size: j.size})
			rec.Size += j.size
			// A run killed between committing a layer and noting its blob
			// left the note out; every layer needs one.
			if err := e.addLayerBlobs(ctx, tx, repo, j); err != nil {
				return err
			}
		}
		for _, m := range keep {
			rec.Blobs = append(rec.Blobs, store.ImageBlob{Digest: m.Digest, MediaType: m.MediaType})
		}
		if err := tx.PutImage(ctx, rec); err != nil {
			return err
		}
		if updated, err = nameImage(ctx, tx, ref, res); err != nil {
			return err
		}
		return tx.AddRepoDigest(ctx, store.RepoDigest{Repo: ref.Name(), Digest: res.Digest, ImageID: res.ID})
	})
	return updated, err
}

// nameImage points the pulled tag at the image. It reports whether the
// name pointed at another image before; pulled by digest, whether the
// image did not have that digest yet.
func nameImage(ctx context.Context, tx *store.Tx, ref image.Reference, res PullResult) (bool, error) {
	if ref.Tag != "" && ref.Digest == "" {
		old, err := tx.SetTag(ctx, store.Tag{Ref: ref.String(), Repo: ref.Name(), Tag: ref.Tag, ImageID: res.ID})
		return old != res.ID, err
	}
	rds, err := tx.RepoDigests(ctx, res.ID)
	if err != nil {
		return false, err
	}
	for _, rd := range rds {
		if rd.Repo == ref.Name() && rd.Digest == res.Digest {
			return false, nil
		}
	}
	return true, nil
}

// pullError words a registry's refusal as Docker does.
func (e *Engine) pullError(ref image.Reference, err error) error {
	switch {
	case errors.Is(err, errdefs.ErrUnauthorized), errors.Is(err, errdefs.ErrDenied):
		return errdefs.Newf(errdefs.ErrDenied, "pull access denied for %s, repository does not exist or may require 'berth login': %w", ref.FamiliarName(e.hub), err)
	case errors.Is(err, errdefs.ErrNotFound):
		return errdefs.Newf(errdefs.ErrNotFound, "manifest for %s not found: %w", ref.FamiliarString(e.hub), err)
	}
	return err
}
