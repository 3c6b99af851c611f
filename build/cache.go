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

// get finds the layer a step with this key made before.
func (c *cache) get(ctx context.Context, key digest.Digest) (engine.BuildLayer, bool, error) {
	if c.off {
		return engine.BuildLayer{}, false, nil
	}
	return c.sess.Cached(ctx, key)
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
	l, hit, err := b.cache.get(ctx, st.key)
	if err != nil || !hit {
		return false, err
	}
	b.prog.cached()
	b.res.Cached++
	st.addLayer(l, createdBy, b.now())
	return true, nil
}

// commit makes dir the stage's next layer and records it in the cache.
func (b *builder) commit(ctx context.Context, st *stage, dir, createdBy string, start time.Time) error {
	l, err := b.sess.CommitDir(ctx, dir, st.top(), b.clamp())
	if err != nil {
		return err
	}
	if err := b.sess.Remember(st.key, l); err != nil {
		return err
	}
	b.res.Ran++
	b.prog.done(time.Since(start))
	st.addLayer(l, createdBy, b.now())
	return nil
}

// clamp is the latest mtime a layer may hold (SOURCE_DATE_EPOCH).
func (b *builder) clamp() *time.Time { return b.o.SourceDateEpoch }
