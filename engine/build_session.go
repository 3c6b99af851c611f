package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// BuildSession is the engine's side of one build: the layers it makes and
// reuses are held by its lease until the image that names them is
// recorded, so a sweep in another berth cannot take them mid-build.
type BuildSession struct {
	e     *Engine
	lease *store.Lease
}

// BuildLayer is one layer of an image being built.
type BuildLayer struct {
	ChainID, DiffID digest.Digest
	Size            int64
}

// BuildBase is an image a stage starts FROM.
type BuildBase struct {
	ID     digest.Digest
	Config *image.Config
	Layers []BuildLayer
}

// NewBuildSession starts a build.
func (e *Engine) NewBuildSession(ctx context.Context) (*BuildSession, error) {
	if err := e.reapSteps(ctx); err != nil {
		// No runtime here (no runc, not root): no steps to end either.
		slog.Debug("could not end the steps of builds that died", "err", err)
	}
	l, err := e.store.NewLease(ctx)
	if err != nil {
		return nil, err
	}
	return &BuildSession{e: e, lease: l}, nil
}

// Close ends the session; what no image keeps goes at the next sweep.
func (b *BuildSession) Close(ctx context.Context) error { return b.lease.Release(ctx) }

// Base finds the image name refers to, pulling it when it is missing or
// pull is set, and holds its layers.
func (b *BuildSession) Base(ctx context.Context, name string, pull bool) (BuildBase, error) {
	var out BuildBase
	r, err := b.e.Resolve(ctx, name)
	if pull || errdefs.IsNotFound(err) {
		res, perr := b.e.Pull(ctx, name, PullOptions{})
		if perr != nil {
			return out, fmt.Errorf("FROM %s: %w", name, perr)
		}
		r.ID, err = res.ID, nil
	}
	if err != nil {
		return out, fmt.Errorf("FROM %s: %w", name, err)
	}
	if out.Config, err = b.e.Config(r.ID); err != nil {
		return out, err
	}
	out.ID = r.ID
	err = b.e.store.View(ctx, func(tx *store.Tx) error {
		img, err := tx.Image(ctx, r.ID)
		for _, l := range img.Layers {
			out.Layers = append(out.Layers, BuildLayer{ChainID: l.ChainID, DiffID: l.DiffID, Size: l.Size})
		}
		return err
	})
	if err != nil {
		return out, err
	}
	return out, b.hold(ctx, out.Layers...)
}

func (b *BuildSession) hold(ctx context.Context, layers ...BuildLayer) error {
	ids := make([]digest.Digest, len(layers))
	for i, l := range layers {
		ids[i] = l.ChainID
	}
	_, _, err := b.lease.Acquire(ctx, nil, ids)
	return err
}

// LayerDir is the unpacked directory of a layer (read only).
func (b *BuildSession) LayerDir(chainID digest.Digest) string { return b.e.store.LayerDir(chainID) }

// Layer finds a layer the cache names, held for the build; ok is false
// when it is gone (a prune took it): the step runs again.
func (b *BuildSession) Layer(ctx context.Context, chainID digest.Digest) (BuildLayer, bool, error) {
	info, err := b.e.store.Layer(chainID)
	if errdefs.IsNotFound(err) {
		return BuildLayer{}, false, nil
	}
	if err != nil {
		return BuildLayer{}, false, err
	}
	l := BuildLayer{ChainID: info.ChainID, DiffID: info.DiffID, Size: info.Size}
	_, have, err := b.lease.Acquire(ctx, nil, []digest.Digest{chainID})
	return l, err == nil && have[chainID], err
}

// NewDir makes an empty directory on the store's filesystem for a layer's
// files, to be given to CommitDir.
func (b *BuildSession) NewDir() (string, error) {
	if err := os.MkdirAll(b.e.store.ScratchDir(), 0o700); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(b.e.store.ScratchDir(), "build-")
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}

// CommitDir makes dir the layer on top of parent (see store.CommitDir),
// held for the build.
func (b *BuildSession) CommitDir(ctx context.Context, dir string, parent digest.Digest, clamp *time.Time) (BuildLayer, error) {
	info, err := b.e.store.CommitDir(ctx, dir, parent, clamp)
	if err != nil {
		return BuildLayer{}, err
	}
	l := BuildLayer{ChainID: info.ChainID, DiffID: info.DiffID, Size: info.Size}
	return l, b.hold(ctx, l)
}

// CacheDir is a directory kept between builds under the store root, for
// RUN's cache mounts.
func (b *BuildSession) CacheDir() string { return b.e.store.BuildCacheDir() }

// Cached finds the build step with this key in the cache: the layer it
// made (zero for a step that made none), held for the build, and when it
// was made. ok is false on a miss (no record, or its layer is gone).
func (b *BuildSession) Cached(ctx context.Context, key digest.Digest) (l BuildLayer, created time.Time, ok bool, err error) {
	chainID, created, ok := b.e.store.BuildCache(key)
	if !ok || chainID == "" {
		return BuildLayer{}, created, ok, nil
	}
	l, ok, err = b.Layer(ctx, chainID)
	return l, created, ok, err
}

// Remember records a build step under its key: the layer it made (zero
// for none) and when.
func (b *BuildSession) Remember(key digest.Digest, l BuildLayer, created time.Time) error {
	return b.e.store.PutBuildCache(key, l.ChainID, created)
}

// PruneBuildCache removes the build cache (builder prune): with all every
// record and cache mount, else the records of layers no image uses; with
// until set, only records made before it. It returns the bytes the sweep
// freed.
func (e *Engine) PruneBuildCache(ctx context.Context, all bool, until time.Time) (int64, error) {
	res, err := e.store.PruneBuildCache(ctx, all, until)
	return res.Bytes, err
}

// WriteImage records the image cfg describes, its layers lowest first,
// and tags it.
func (b *BuildSession) WriteImage(ctx context.Context, cfg *image.Config, layers []BuildLayer, tags []string) (digest.Digest, error) {
	refs := make([]image.Reference, len(tags))
	for i, t := range tags {
		r, err := b.e.ParseReference(t)
		if err != nil {
			return "", err
		}
		refs[i] = r.WithDefaultTag()
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	id, err := b.e.store.WriteBlob(ctx, raw)
	if err != nil {
		return "", err
	}
	img := store.Image{ID: id, Platform: image.FormatPlatform(image.DefaultPlatform())}
	if cfg.Created != nil {
		img.Created = *cfg.Created
	}
	for _, l := range layers {
		img.Size += l.Size
		img.Layers = append(img.Layers, store.ImageLayer{DiffID: l.DiffID, ChainID: l.ChainID, Size: l.Size})
	}
	err = b.e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.PutImage(ctx, img); err != nil {
			return err
		}
		for _, r := range refs {
			if _, err := tx.SetTag(ctx, store.Tag{Ref: r.String(), Repo: r.Name(), Tag: r.Tag, ImageID: id}); err != nil {
				return err
			}
		}
		return nil
	})
	return id, err
}
