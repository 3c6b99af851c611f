package build

import (
	"context"
	"os"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/engine"
)

// cache is the build cache as a build sees it: the store keeps a record
// per step key, a root for the sweep (store/buildcache.go).
type cache struct {
	sess *engine.BuildSession
	off  bool // --no-cache: look nothing up, still record
}

// get finds the step with this key: the layer it made before, and when.
func (c *cache) get(ctx context.Context, key digest.Digest) (engine.BuildLayer, time.Time, bool, error) {
	if c.off {
		return engine.BuildLayer{}, time.Time{}, false, nil
	}
	return c.sess.Cached(ctx, key)
}

// configTime is when a step that changes only the config was first made
// (the cache's record), so that a cached build gives the same image.
func (b *builder) configTime(ctx context.Context, st *stage) (time.Time, error) {
	_, created, hit, err := b.cache.get(ctx, st.key)
	if err != nil || hit {
		return b.stamp(created), err
	}
	now := time.Now().UTC()
	return b.stamp(now), b.sess.Remember(st.key, engine.BuildLayer{}, now)
}

// layerStep makes a layer by filling a fresh directory, unless the cache
// has the step's key (st.key, set by the caller): then the layer is reused
// and fill is not called.
func (b *builder) layerStep(ctx context.Context, st *stage, createdBy string, fill func(dir string) error) error {
	if hit, err := b.fromCache(ctx, st, createdBy); hit || err != nil {
		return err
	}
	start := time.Now()
	dir, err := b.sess.NewDir()
	if err != nil {
		return err
	}
	if err := fill(dir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	return b.commit(ctx, st, dir, createdBy, start)
}

// fromCache puts the layer the cache has for the step's key on the stage.
func (b *builder) fromCache(ctx context.Context, st *stage, createdBy string) (bool, error) {
	l, created, hit, err := b.cache.get(ctx, st.key)
	if err != nil || !hit || l.ChainID == "" {
		return false, err
	}
	b.prog.cached()
	b.res.Cached++
	st.addLayer(l, createdBy, b.stamp(created))
	return true, nil
}

// commit makes dir the stage's next layer and records it in the cache.
func (b *builder) commit(ctx context.Context, st *stage, dir, createdBy string, start time.Time) error {
	l, err := b.sess.CommitDir(ctx, dir, st.top(), b.clamp())
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if err := b.sess.Remember(st.key, l, now); err != nil {
		return err
	}
	b.res.Ran++
	b.prog.done(time.Since(start))
	st.addLayer(l, createdBy, b.stamp(now))
	return nil
}

// clamp is the latest mtime a layer may hold (SOURCE_DATE_EPOCH).
func (b *builder) clamp() *time.Time { return b.o.SourceDateEpoch }
