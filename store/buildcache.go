package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
)

// The build cache: one small file per step key, under
//
//	buildcache/keys/<hex>      {"chain_id": …}: the layer the step made
//	buildcache/mounts/<hex>/   RUN --mount=type=cache directories
//
// A record is a root: the sweep keeps the layer it names and the layers
// under it, so a build's intermediate stages survive image removal until
// `builder prune` drops the records. Records are renamed into place, so a
// killed build leaves none half written; one naming a layer that is gone
// is a miss.
const (
	buildCacheDir  = "buildcache"
	buildCacheKeys = "keys"
)

// buildCacheRecord is one step: the layer it made ("" for a step that
// only changed the config) and when it was made, which a hit gives the
// image again so that a cached build gives the same image ID.
type buildCacheRecord struct {
	ChainID digest.Digest `json:"chain_id,omitempty"`
	Created time.Time     `json:"created"`
}

func (s *Store) buildCachePath(key digest.Digest) string {
	return filepath.Join(s.root, buildCacheDir, buildCacheKeys, key.Encoded())
}

// BuildCacheDir is where the build cache lives (its records and RUN's
// cache mounts).
func (s *Store) BuildCacheDir() string { return filepath.Join(s.root, buildCacheDir) }

// BuildCache finds the record of a build step with this key: the layer it
// made ("" for none) and when; ok is false when there is no record or its
// layer is gone.
func (s *Store) BuildCache(key digest.Digest) (chainID digest.Digest, created time.Time, ok bool) {
	raw, err := os.ReadFile(s.buildCachePath(key))
	if err != nil {
		return "", time.Time{}, false
	}
	var rec buildCacheRecord
	if json.Unmarshal(raw, &rec) != nil || (rec.ChainID != "" && !s.HasLayer(rec.ChainID)) {
		return "", time.Time{}, false
	}
	return rec.ChainID, rec.Created, true
}

// PutBuildCache records a build step: the layer it made ("" for none) and
// when.
func (s *Store) PutBuildCache(key, chainID digest.Digest, created time.Time) error {
	p := s.buildCachePath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	raw, _ := json.Marshal(buildCacheRecord{ChainID: chainID, Created: created.UTC()})
	tmp := p + "." + randomHex()
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build cache record: %w", err)
	}
	return nil
}

// PruneBuildCache drops the build cache's records (all, or those whose
// layer no image uses) made before until (zero: any time), and its cache
// mounts with all, then sweeps what only they kept.
func (s *Store) PruneBuildCache(ctx context.Context, all bool, until time.Time) (SweepResult, error) {
	return s.Collect(ctx, func(tx *Tx) error {
		used := map[string]bool{}
		rows, err := tx.tx.QueryContext(ctx, `SELECT chain_id FROM image_layers`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err == nil {
				used[c] = true
			}
		}
		rows.Close()
		dir := filepath.Join(s.root, buildCacheDir, buildCacheKeys)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			raw, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			var rec buildCacheRecord
			torn := json.Unmarshal(raw, &rec) != nil
			if !torn && !until.IsZero() && !rec.Created.Before(until) {
				continue
			}
			if all || torn || (rec.ChainID != "" && !used[rec.ChainID.String()]) {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
		if all && until.IsZero() {
			removeAll(filepath.Join(s.root, buildCacheDir, "mounts"))
		}
		return nil
	})
}

// BuildCacheEntry is one build step's record, as BuildCacheRecords lists it.
type BuildCacheEntry struct {
	Key     string        // the record's name: its step key's hex
	ChainID digest.Digest // the layer the step made; "" for a config-only step
	Created time.Time
}

// BuildCacheRecords lists the build cache's step records. A torn record,
// or a temporary file mid-rename, is no record and is left out.
func (s *Store) BuildCacheRecords() []BuildCacheEntry {
	dir := filepath.Join(s.root, buildCacheDir, buildCacheKeys)
	ents, _ := os.ReadDir(dir)
	var out []BuildCacheEntry
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		var rec buildCacheRecord
		if err != nil || json.Unmarshal(raw, &rec) != nil {
			continue
		}
		out = append(out, BuildCacheEntry{Key: e.Name(), ChainID: rec.ChainID, Created: rec.Created})
	}
	return out
}

// BuildCacheMountsDir holds RUN --mount=type=cache directories, one per id.
func (s *Store) BuildCacheMountsDir() string { return filepath.Join(s.root, buildCacheDir, "mounts") }

// markBuildCache marks the layers the build cache's records keep, with
// every layer under them.
func (s *Store) markBuildCache(layers map[string]bool) {
	for _, rec := range s.BuildCacheRecords() {
		for c := rec.ChainID; c != "" && !layers[c.String()]; {
			layers[c.String()] = true
			info, err := s.Layer(c)
			if err != nil {
				break
			}
			c = info.Parent
		}
	}
}
