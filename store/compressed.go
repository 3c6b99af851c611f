package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// DropCompressed removes the compressed blobs kept with pulled layers whose
// files and tar-split records give their tars back, keeping only the
// unpacked layers (`berth image prune --compressed`). A push of such a
// layer then compresses its regenerated tar again, so its digest may differ
// from the registry's, which the push asks about first. A lossy layer keeps
// its blob. It returns the bytes removed.
func (s *Store) DropCompressed(ctx context.Context) (int64, error) {
	var space int64
	err := s.Update(ctx, func(tx *Tx) error {
		space = 0
		regen, err := s.regenerableDiffIDs()
		if err != nil {
			return err
		}
		trash := filepath.Join(s.root, trashDir, randomHex())
		if err := os.MkdirAll(trash, 0o700); err != nil {
			return err
		}
		for diffID := range regen {
			lbs, err := tx.LayerBlobs(ctx, diffID)
			if err != nil {
				return err
			}
			for _, lb := range lbs {
				if lb.Registry != "" || lb.Blob == diffID {
					continue
				}
				n, err := tx.dropBlob(ctx, lb.Blob, trash)
				if err != nil {
					return err
				}
				space += n
			}
		}
		return nil
	})
	s.emptyTrash()
	return space, err
}

// regenerableDiffIDs lists the diff IDs whose every unpacked layer has a
// tar-split record.
func (s *Store) regenerableDiffIDs() (map[digest.Digest]bool, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, layersDir))
	if err != nil {
		return nil, err
	}
	regen := map[digest.Digest]bool{}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == layerTmpDir {
			continue
		}
		chain := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		info, err := s.Layer(chain)
		if err != nil {
			continue
		}
		ok, seen := regen[info.DiffID]
		regen[info.DiffID] = (ok || !seen) && s.HasLayerTar(chain)
	}
	for d, ok := range regen {
		if !ok {
			delete(regen, d)
		}
	}
	return regen, nil
}

// dropBlob moves a layer blob to trash and forgets it as a local blob.
func (tx *Tx) dropBlob(ctx context.Context, d digest.Digest, trash string) (int64, error) {
	fi, err := os.Stat(tx.s.blobPath(d))
	if err != nil {
		return 0, nil // not here: nothing to drop
	}
	if err := os.Rename(tx.s.blobPath(d), filepath.Join(trash, "blob-"+string(d.Algorithm())+"-"+d.Encoded())); err != nil {
		return 0, fmt.Errorf("removing blob %s: %w", d, err)
	}
	if _, err := tx.tx.ExecContext(ctx, `DELETE FROM layer_blobs WHERE blob = ? AND registry = ''`, d.String()); err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
