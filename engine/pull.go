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
	tagOrDigest := ref.Tag
	if ref.Digest != "" {
		tagOrDigest = ref.Digest.String()
	}

	top, err := repo.Manifest(ctx, tagOrDigest)
	if err != nil {
		return res, e.pullError(ref, err)
	}
	send.send(Progress{ID: tagOrDigest, Status: "Pulling from " + ref.Path})
	res.Digest = top.Digest
	want := image.DefaultPlatform()
	if o.Platform != nil {
		want = *o.Platform
	}
	resolved, err := repo.SelectPlatform(ctx, top, want)
	if err != nil {
		return res, err
	}
	man, manDesc, indexes := resolved.Image, resolved.Manifest, resolved.Indexes
	if !image.IsConfig(man.Config.MediaType) {
		return res, fmt.Errorf("%s is not a container image (its config is %q): %w", ref.FamiliarString(e.hub), man.Config.MediaType, errdefs.ErrUnsupported)
	}
	cfgRaw, err := repo.FetchBlob(ctx, man.Config, maxConfigSize)
	if err != nil {
		return res, fmt.Errorf("fetching the config of %s: %w", ref.FamiliarString(e.hub), err)
	}
	cfg, err := image.ParseConfig(cfgRaw)
	if err != nil {
		return res, err
	}
	if o.Platform != nil && len(indexes) == 0 {
		have := ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		if !image.MatchPlatform(*o.Platform, have) {
			return res, fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s: %w",
				ref.FamiliarString(e.hub), image.FormatPlatform(*o.Platform), image.FormatPlatform(have), errdefs.ErrNotFound)
		}
	}
	if len(man.Layers) != len(cfg.RootFS.DiffIDs) {
		return res, fmt.Errorf("manifest %s has %d layers, its config %d: %w", manDesc.Digest, len(man.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrInvalid)
	}
	res.ID = man.Config.Digest

	jobs := make([]*pullJob, len(man.Layers))
	chains := image.ChainIDs(cfg.RootFS.DiffIDs)
	blobs := []digest.Digest{man.Config.Digest, manDesc.Digest}
	for _, ix := range indexes {
		blobs = append(blobs, ix.Digest)
	}
	for i, l := range man.Layers {
		if _, err := image.LayerCompression(l.MediaType); err != nil {
			return res, err
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
		blobs = append(blobs, l.Digest)
	}

	lease, err := e.store.NewLease(ctx)
	if err != nil {
		return res, err
	}
	defer lease.Release(ctx)
	_, haveLayer, err := lease.Acquire(ctx, blobs, chains)
	if err != nil {
		return res, err
	}
	known := false
	_ = e.store.View(ctx, func(tx *store.Tx) error {
		_, err := tx.Image(ctx, res.ID)
		known = err == nil
		return nil
	})
	allPresent := true
	for _, j := range jobs {
		if haveLayer[j.chainID] && (e.store.HasBlob(j.desc.Digest) || e.hasLocalBlob(ctx, j.diffID)) {
			j.skip = true
			if info, err := e.store.Layer(j.chainID); err == nil {
				j.size = info.Size
			}
		} else {
			allPresent = false
		}
	}
	// Docker says nothing about the layers of an image it already has.
	quiet := known && allPresent
	if err := e.pullLayers(ctx, repo, jobs, quiet, send); err != nil {
		return res, err
	}

	if _, err := e.store.WriteBlob(ctx, cfgRaw); err != nil {
		return res, err
	}
	keep := append([]client.Manifest{manDesc}, indexes...)
	for _, m := range keep {
		if _, err := e.store.WriteBlob(ctx, m.Raw); err != nil {
			return res, err
		}
	}
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		rec := store.Image{ID: res.ID, Created: created(cfg), Platform: platformOf(cfg), Manifest: manDesc.Digest, ManifestMediaType: manDesc.MediaType}
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
		if ref.Tag != "" && ref.Digest == "" {
			old, err := tx.SetTag(ctx, store.Tag{Ref: ref.String(), Repo: ref.Name(), Tag: ref.Tag, ImageID: res.ID})
			if err != nil {
				return err
			}
			res.Updated = old != res.ID
		} else {
			rds, err := tx.RepoDigests(ctx, res.ID)
			if err != nil {
				return err
			}
			res.Updated = true
			for _, rd := range rds {
				if rd.Repo == ref.Name() && rd.Digest == res.Digest {
					res.Updated = false
				}
			}
		}
		return tx.AddRepoDigest(ctx, store.RepoDigest{Repo: ref.Name(), Digest: res.Digest, ImageID: res.ID})
	})
	if err != nil {
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
