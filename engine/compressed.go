package engine

import "context"

// PruneCompressed drops the compressed blobs pulled layers keep beside
// their unpacked files (store.DropCompressed), for `image prune
// --compressed`: the store then holds each such layer once, and a push
// compresses it again. It returns the bytes reclaimed.
func (e *Engine) PruneCompressed(ctx context.Context) (int64, error) {
	return e.store.DropCompressed(ctx)
}
