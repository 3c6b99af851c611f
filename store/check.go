package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/image"
)

// CheckReport is what Check found. Problems are inconsistencies: a store
// without problems is one a crash could have left, and nothing is lost.
type CheckReport struct {
	Problems []string
	Blobs    int
	Layers   int
	Images   int
	// Unreferenced content is not a problem: the next prune removes it.
	UnreferencedBlobs  int
	UnreferencedLayers int
}

// Check re-hashes every blob, verifies every unpacked layer, and recomputes
// what the roots reach, reporting every inconsistency. progress, if set,
// hears what is being checked.
func (s *Store) Check(ctx context.Context, progress func(string)) (CheckReport, error) {
	var r CheckReport
	say := func(f string, a ...any) {
		if progress != nil {
			progress(fmt.Sprintf(f, a...))
		}
	}
	problem := func(f string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(f, a...)) }

	var integrity string
	if err := s.ro.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil {
		return r, err
	}
	if integrity != "ok" {
		problem("database: %s", integrity)
	}

	say("checking blobs")
	blobs := map[digest.Digest]bool{}
	algs, _ := os.ReadDir(filepath.Join(s.root, blobsDir))
	for _, alg := range algs {
		entries, _ := os.ReadDir(filepath.Join(s.root, blobsDir, alg.Name()))
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return r, err
			}
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), e.Name())
			r.Blobs++
			blobs[d] = true
			if err := d.Validate(); err != nil {
				problem("blob %s: not a valid digest name", d)
				continue
			}
			got, err := hashFile(s.blobPath(d), d.Algorithm())
			if err != nil {
				problem("blob %s: %v", d, err)
			} else if got != d {
				problem("blob %s: content hashes to %s", d, got)
			}
		}
	}

	say("checking layers")
	layers := map[digest.Digest]LayerInfo{}
	entries, _ := os.ReadDir(filepath.Join(s.root, layersDir))
	for _, e := range entries {
		if e.Name() == layerTmpDir {
			continue
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
		r.Layers++
		chain := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		info, err := s.Layer(chain)
		if err != nil {
			problem("layer %s: %v", chain, err)
			continue
		}
		layers[chain] = info
		if info.ChainID != chain || ChainID(info.Parent, info.DiffID) != chain {
			problem("layer %s: layer.json names chain %s, parent %s, diff %s, which do not add up", chain, info.ChainID, info.Parent, info.DiffID)
		}
		size, err := archive.Size(s.LayerDir(chain))
		if err != nil {
			problem("layer %s: %v", chain, err)
		} else if size != info.Size {
			problem("layer %s: holds %d bytes, recorded %d", chain, size, info.Size)
		}
	}
	say("checking images and containers")
	reached := marked{blobs: map[string]bool{}, layers: map[string]bool{}}
	err := s.View(ctx, func(tx *Tx) error {
		imgs, err := tx.Images(ctx)
		if err != nil {
			return err
		}
		r.Images = len(imgs)
		for _, img := range imgs {
			s.checkImage(ctx, tx, img, blobs, layers, reached, problem)
		}
		ctrs, err := tx.Containers(ctx, "")
		if err != nil {
			return err
		}
		for _, c := range ctrs {
			for _, l := range c.Layers {
				reached.layers[l.String()] = true
				if _, ok := layers[l]; !ok {
					problem("container %s: layer %s is missing", c.ID, l)
				}
			}
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	for b := range blobs {
		if !reached.blobs[b.String()] {
			r.UnreferencedBlobs++
		}
	}
	for c, info := range layers {
		if !reached.layers[c.String()] {
			// Layers unpack in parallel, each committed when it is
			// verified, so a killed pull can leave one without its parent:
			// garbage for the next sweep, not a problem.
			r.UnreferencedLayers++
			continue
		}
		if info.Parent != "" {
			if _, ok := layers[info.Parent]; !ok {
				problem("layer %s: parent layer %s is missing", c, info.Parent)
			}
		}
	}
	return r, nil
}

func (s *Store) checkImage(ctx context.Context, tx *Tx, img Image, blobs map[digest.Digest]bool, layers map[digest.Digest]LayerInfo, reached marked, problem func(string, ...any)) {
	reached.blobs[img.ID.String()] = true
	if !blobs[img.ID] {
		problem("image %s: config blob is missing", img.ID)
		return
	}
	raw, err := s.ReadBlob(img.ID, 64<<20)
	if err != nil {
		problem("image %s: %v", img.ID, err)
		return
	}
	cfg, err := image.ParseConfig(raw)
	if err != nil {
		problem("image %s: %v", img.ID, err)
		return
	}
	if len(cfg.RootFS.DiffIDs) != len(img.Layers) {
		problem("image %s: config has %d layers, record has %d", img.ID, len(cfg.RootFS.DiffIDs), len(img.Layers))
		return
	}
	var size int64
	chains := image.ChainIDs(cfg.RootFS.DiffIDs)
	for i, l := range img.Layers {
		reached.layers[l.ChainID.String()] = true
		if l.DiffID != cfg.RootFS.DiffIDs[i] || l.ChainID != chains[i] {
			problem("image %s: layer %d recorded as %s, config says %s", img.ID, i, l.DiffID, cfg.RootFS.DiffIDs[i])
		}
		info, ok := layers[l.ChainID]
		if !ok {
			problem("image %s: layer %s is missing", img.ID, l.ChainID)
			continue
		}
		size += info.Size
		lbs, err := tx.LayerBlobs(ctx, l.DiffID)
		if err != nil {
			problem("image %s: %v", img.ID, err)
			continue
		}
		local := false
		for _, lb := range lbs {
			if lb.Registry == "" && blobs[lb.Blob] {
				local = true
				reached.blobs[lb.Blob.String()] = true
			}
		}
		if !local {
			problem("image %s: no blob holds layer %s, so it cannot be saved or pushed", img.ID, l.DiffID)
		}
	}
	if size != img.Size {
		problem("image %s: layers hold %d bytes, record says %d", img.ID, size, img.Size)
	}
	for _, b := range img.Blobs {
		reached.blobs[b.Digest.String()] = true
		if !blobs[b.Digest] {
			problem("image %s: blob %s is missing", img.ID, b.Digest)
		}
	}
}

func hashFile(path string, alg digest.Algorithm) (digest.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d := alg.Digester()
	if _, err := io.Copy(d.Hash(), f); err != nil {
		return "", err
	}
	return d.Digest(), nil
}

// MarshalJSON keeps reports stable for --format json.
func (r CheckReport) MarshalJSON() ([]byte, error) {
	type plain CheckReport
	p := plain(r)
	if p.Problems == nil {
		p.Problems = []string{}
	}
	return json.Marshal(p)
}
