package engine

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/internal/du"
	"github.com/berth-dev/berth/store"
)

// DiskUsage is what `system df` reports.
type DiskUsage struct {
	Images     []ImageSummary
	LayersSize int64 // every image layer once
	// KeptBlobs are the layer blobs kept beside the unpacked layers.
	KeptBlobs  []KeptBlob
	Containers []ContainerUsage
	Volumes    []VolumeUsage
	BuildCache []BuildCacheUsage
}

// BuildCacheUsage is one entry of the build cache: a build step's record
// ("regular") or a RUN --mount=type=cache directory ("exec.cachemount"),
// in Docker's words.
type BuildCacheUsage struct {
	ID   string // the step's key or the mount's directory name
	Type string
	// Size is the record's layer when no image holds it, or the cache
	// mount's files; a layer some image holds, or an earlier record
	// already counted, is Shared and its Size is not reclaimable.
	Size     int64
	Shared   bool
	Created  time.Time
	LastUsed time.Time // zero: not tracked
}

// ContainerUsage is one container's writable layer.
type ContainerUsage struct {
	ID      string
	Running bool
	Size    int64
}

// VolumeUsage is one volume.
type VolumeUsage struct {
	Name  string
	InUse bool
	Size  int64
}

// DiskUsage measures what images hold, shared layers counted once.
func (e *Engine) DiskUsage(ctx context.Context) (DiskUsage, error) {
	var du DiskUsage
	imgs, err := e.Images(ctx)
	if err != nil {
		return du, err
	}
	du.Images = imgs
	seen := map[digest.Digest]bool{}
	err = e.store.View(ctx, func(tx *store.Tx) error {
		recs, err := tx.Images(ctx)
		for _, img := range recs {
			for _, l := range img.Layers {
				if !seen[l.ChainID] {
					seen[l.ChainID] = true
					du.LayersSize += l.Size
				}
			}
		}
		if err != nil {
			return err
		}
		du.KeptBlobs, err = e.keptBlobs(ctx, tx, recs)
		return err
	})
	if err == nil {
		du.BuildCache = e.buildCacheUsage(seen)
	}
	if err != nil {
		return du, err
	}
	return du, e.containerUsage(ctx, &du)
}

// Check verifies the whole store; see store.Check. It first repairs what
// killed berths left among the containers (RepairContainers), and says
// what it repaired as warnings: a crash left it, so it is not a problem
// of the store, but the user learns that something was cut short.
func (e *Engine) Check(ctx context.Context, progress func(string)) (store.CheckReport, error) {
	done, err := e.RepairContainers(ctx)
	for _, d := range done {
		slog.Warn("repaired what a killed berth left", "what", d)
	}
	if err != nil {
		slog.Warn("could not bring container records up to date", "err", err)
	}
	return e.store.Check(ctx, progress)
}

// buildCacheUsage lists the build cache: its records, each layer sized
// once and only when no image holds it (held), then its cache mounts.
// Records that are torn or name a layer that is gone are misses, not
// cache, and are left out; so are the context's file sums, which are a
// few bytes each and which builder prune keeps.
func (e *Engine) buildCacheUsage(held map[digest.Digest]bool) []BuildCacheUsage {
	var out []BuildCacheUsage
	counted := map[digest.Digest]bool{}
	for _, rec := range e.store.BuildCacheRecords() {
		u := BuildCacheUsage{ID: rec.Key, Type: "regular", Created: rec.Created}
		if rec.ChainID != "" {
			info, err := e.store.Layer(rec.ChainID)
			if err != nil {
				continue
			}
			u.Size = info.Size
			u.Shared = held[rec.ChainID] || counted[rec.ChainID]
			counted[rec.ChainID] = true
		}
		out = append(out, u)
	}
	mounts := e.store.BuildCacheMountsDir()
	ents, _ := os.ReadDir(mounts)
	for _, ent := range ents {
		fi, err := ent.Info()
		if err != nil || !fi.IsDir() {
			continue
		}
		out = append(out, BuildCacheUsage{ID: ent.Name(), Type: "exec.cachemount", Size: du.Size(filepath.Join(mounts, ent.Name())), Created: fi.ModTime()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}
