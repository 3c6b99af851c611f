package engine

import (
	"context"
	"log/slog"

	"github.com/opencontainers/go-digest"

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
