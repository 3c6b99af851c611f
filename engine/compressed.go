package engine

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/store"
)

// PruneCompressed drops the compressed blobs pulled layers keep beside
// their unpacked files (store.DropCompressed), for `image prune
// --compressed`: the store then holds each such layer once, and a push
// compresses it again. It returns the bytes reclaimed.
func (e *Engine) PruneCompressed(ctx context.Context) (int64, error) {
	return e.store.DropCompressed(ctx)
}

// KeptBlob is a layer blob the store keeps beside the layer's files, and
// why: `system df -v` lists them.
type KeptBlob struct {
	DiffID digest.Digest
	Blob   digest.Digest
	Size   int64
	Why    string
}

// keptBlobs lists the layer blobs the images' layers keep, each once.
func (e *Engine) keptBlobs(ctx context.Context, tx *store.Tx, recs []store.Image) ([]KeptBlob, error) {
	var kept []KeptBlob
	seen := map[digest.Digest]bool{}
	for _, img := range recs {
		for _, l := range img.Layers {
			lbs, err := tx.LayerBlobs(ctx, l.DiffID)
			if err != nil {
				return nil, err
			}
			for _, lb := range lbs {
				if lb.Registry != "" || seen[lb.Blob] {
					continue
				}
				size, err := e.store.BlobSize(lb.Blob)
				if err != nil {
					continue
				}
				seen[lb.Blob] = true
				kept = append(kept, KeptBlob{DiffID: l.DiffID, Blob: lb.Blob, Size: size, Why: e.whyKept(l, lb)})
			}
		}
	}
	return kept, nil
}

func (e *Engine) whyKept(l store.ImageLayer, lb store.LayerBlob) string {
	if info, err := e.store.Layer(l.ChainID); err == nil && info.Lossy != "" {
		return "its files cannot give its tar back: " + info.Lossy
	}
	if !e.store.HasLayerTar(l.ChainID) {
		return "stored before layers kept tar-split records"
	}
	return "compressed, as pulled (image prune --compressed drops it)"
}
