package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
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
	c := &checker{s: s, blobs: map[digest.Digest]bool{}, layers: map[digest.Digest]LayerInfo{},
		reached: marked{blobs: map[string]bool{}, layers: map[string]bool{}}}
	say := func(msg string) {
		if progress != nil {
			progress(msg)
		}
	}
	if err := c.database(ctx); err != nil {
		return c.r, err
	}
	say("checking blobs")
	if err := c.blobFiles(ctx); err != nil {
		return c.r, err
	}
	say("checking layers")
	if err := c.layerDirs(ctx); err != nil {
		return c.r, err
	}
	say("checking images and containers")
	if err := c.roots(ctx); err != nil {
		return c.r, err
	}
	c.unreferenced()
	return c.r, nil
}

// checker is one run of Check: the report, and what it found on disk and
// reached from the roots so far.
type checker struct {
	s       *Store
	r       CheckReport
	blobs   map[digest.Digest]bool
	layers  map[digest.Digest]LayerInfo
	reached marked
}

func (c *checker) problem(f string, a ...any) {
	c.r.Problems = append(c.r.Problems, fmt.Sprintf(f, a...))
}

// database asks SQLite to check its file.
func (c *checker) database(ctx context.Context) error {
	var integrity string
	if err := c.s.ro.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil {
		return err
	}
	if integrity != "ok" {
		c.problem("database: %s", integrity)
	}
	return nil
}

// blobFiles re-hashes every blob.
func (c *checker) blobFiles(ctx context.Context) error {
	algs, _ := os.ReadDir(filepath.Join(c.s.root, blobsDir))
	for _, alg := range algs {
		entries, _ := os.ReadDir(filepath.Join(c.s.root, blobsDir, alg.Name()))
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), e.Name())
			c.r.Blobs++
			c.blobs[d] = true
			if err := d.Validate(); err != nil {
				c.problem("blob %s: not a valid digest name", d)
				continue
			}
			got, err := hashFile(c.s.blobPath(d), d.Algorithm())
			if err != nil {
				c.problem("blob %s: %v", d, err)
			} else if got != d {
				c.problem("blob %s: content hashes to %s", d, got)
			}
		}
	}
	return nil
}

// layerDirs checks that every unpacked layer's record adds up and that
// it holds the bytes recorded.
func (c *checker) layerDirs(ctx context.Context) error {
	entries, _ := os.ReadDir(filepath.Join(c.s.root, layersDir))
	for _, e := range entries {
		if e.Name() == layerTmpDir {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c.r.Layers++
		chain := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		info, err := c.s.Layer(chain)
		if err != nil {
			c.problem("layer %s: %v", chain, err)
			continue
		}
		c.layers[chain] = info
		if info.ChainID != chain || ChainID(info.Parent, info.DiffID) != chain {
			c.problem("layer %s: layer.json names chain %s, parent %s, diff %s, which do not add up", chain, info.ChainID, info.Parent, info.DiffID)
		}
		size, err := archive.Size(c.s.LayerDir(chain))
		if err != nil {
			c.problem("layer %s: %v", chain, err)
		} else if size != info.Size {
			c.problem("layer %s: holds %d bytes, recorded %d", chain, size, info.Size)
		}
		if err := c.layerTar(ctx, chain); err != nil {
			c.problem("layer %s: %v", chain, err)
		}
	}
	return nil
}

// layerTar regenerates a layer's tar from its files and tar-split record
// and checks it against the diff ID: a byte changed in an unpacked file
// shows here. A layer without a record is checked through its blob.
func (c *checker) layerTar(ctx context.Context, chain digest.Digest) error {
	r, err := c.s.OpenLayerTar(ctx, chain)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	return err
}

// roots checks what the images and containers need, marking what they
// reach.
func (c *checker) roots(ctx context.Context) error {
	return c.s.View(ctx, func(tx *Tx) error {
		imgs, err := tx.Images(ctx)
		if err != nil {
			return err
		}
		c.r.Images = len(imgs)
		for _, img := range imgs {
			c.s.checkImage(ctx, tx, img, c.blobs, c.layers, c.reached, c.problem)
		}
		ctrs, err := tx.Containers(ctx, "")
		if err != nil {
			return err
		}
		for _, ctr := range ctrs {
			for _, l := range ctr.Layers {
				c.reached.layers[l.String()] = true
				if _, ok := c.layers[l]; !ok {
					c.problem("container %s: layer %s is missing", ctr.ID, l)
				}
			}
		}
		return nil
	})
}

// unreferenced counts what no root reaches, and checks the parents of
// the layers that are reached.
func (c *checker) unreferenced() {
	for b := range c.blobs {
		if !c.reached.blobs[b.String()] {
			c.r.UnreferencedBlobs++
		}
	}
	for chain, info := range c.layers {
		if !c.reached.layers[chain.String()] {
			// Layers unpack in parallel, each committed when it is
			// verified, so a killed pull can leave one without its parent:
			// garbage for the next sweep, not a problem.
			c.r.UnreferencedLayers++
			continue
		}
		if info.Parent != "" {
			if _, ok := c.layers[info.Parent]; !ok {
				c.problem("layer %s: parent layer %s is missing", chain, info.Parent)
			}
		}
	}
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
		if !local && !s.HasLayerTar(l.ChainID) {
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
