package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// A lease keeps content alive while an operation (a pull, a load) is writing
// it and has not yet recorded the image that will keep it. The lease belongs
// to a process: when the process is gone (even killed), the lease is too.
type Lease struct {
	s  *Store
	ID string
}

// leaseTTL bounds a lease whose process is somehow still alive.
const leaseTTL = 24 * time.Hour

// NewLease starts a lease for this process.
func (s *Store) NewLease(ctx context.Context) (*Lease, error) {
	l := &Lease{s: s, ID: randomHex()}
	pid := os.Getpid()
	start, _ := processStart(pid)
	err := s.Record(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO leases (id, pid, pid_start, expires) VALUES (?, ?, ?, ?)`,
			l.ID, pid, start, nanos(time.Now().Add(leaseTTL)))
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Acquire holds blobs and layers under the lease and reports which of them
// are already in the store. Holding and checking happen in one transaction,
// so a sweep cannot remove a layer between "it is there, skip it" and the
// image record that will keep it.
func (l *Lease) Acquire(ctx context.Context, blobs, layers []digest.Digest) (haveBlob, haveLayer map[digest.Digest]bool, err error) {
	haveBlob, haveLayer = map[digest.Digest]bool{}, map[digest.Digest]bool{}
	err = l.s.Record(ctx, func(tx *Tx) error { // a lease is no root a power cut keeps
		for _, b := range blobs {
			if err := tx.hold(ctx, l.ID, "blob", b); err != nil {
				return err
			}
			haveBlob[b] = l.s.HasBlob(b)
		}
		for _, c := range layers {
			if err := tx.hold(ctx, l.ID, "layer", c); err != nil {
				return err
			}
			haveLayer[c] = l.s.HasLayer(c)
		}
		return nil
	})
	return haveBlob, haveLayer, err
}

func (tx *Tx) hold(ctx context.Context, lease, kind string, d digest.Digest) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO lease_refs (lease_id, kind, key) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, lease, kind, d.String())
	return err
}

// Release ends the lease. Content it held that no image or container keeps
// goes at the next sweep.
func (l *Lease) Release(ctx context.Context) error {
	return l.s.Record(context.WithoutCancel(ctx), func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `DELETE FROM leases WHERE id = ?`, l.ID)
		return err
	})
}

// SweepResult is what a sweep removed.
type SweepResult struct {
	Layers []LayerInfo // removed layers, as Docker lists "Deleted:" lines
	Blobs  []digest.Digest
	Bytes  int64 // blob bytes and layer sizes reclaimed
}

// Collect runs fn and then a sweep in one write transaction: what fn
// unrooted (an untagged and deleted image) is removed at once, and no other
// process can take a lease on it in between.
func (s *Store) Collect(ctx context.Context, fn func(*Tx) error) (SweepResult, error) {
	var res SweepResult
	err := s.Update(ctx, func(tx *Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		var err error
		res, err = tx.sweep(ctx)
		return err
	})
	s.emptyTrash()
	return res, err
}

// marked is everything reachable from the roots.
type marked struct {
	blobs  map[string]bool
	layers map[string]bool
}

func (tx *Tx) mark(ctx context.Context) (marked, error) {
	m := marked{blobs: map[string]bool{}, layers: map[string]bool{}}
	if err := tx.dropDeadLeases(ctx); err != nil {
		return m, err
	}
	queries := []struct {
		q    string
		into map[string]bool
	}{
		{`SELECT id FROM images`, m.blobs},
		{`SELECT blob FROM image_blobs`, m.blobs},
		{`SELECT chain_id FROM image_layers`, m.layers},
		{`SELECT lb.blob FROM layer_blobs lb JOIN image_layers il ON il.diff_id = lb.diff_id WHERE lb.registry = ''`, m.blobs},
		{`SELECT chain_id FROM container_layers`, m.layers},
		{`SELECT key FROM lease_refs WHERE kind = 'blob'`, m.blobs},
		{`SELECT key FROM lease_refs WHERE kind = 'layer'`, m.layers},
	}
	for _, q := range queries {
		rows, err := tx.tx.QueryContext(ctx, q.q)
		if err != nil {
			return m, err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return m, err
			}
			q.into[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return m, err
		}
	}
	tx.s.markBuildCache(m.layers) // the build cache's records are roots too
	return m, nil
}

func (tx *Tx) dropDeadLeases(ctx context.Context) error {
	rows, err := tx.tx.QueryContext(ctx, `SELECT id, pid, pid_start, expires FROM leases`)
	if err != nil {
		return err
	}
	var dead []string
	now := time.Now()
	for rows.Next() {
		var id string
		var pid int
		var start, expires int64
		if err := rows.Scan(&id, &pid, &start, &expires); err != nil {
			rows.Close()
			return err
		}
		if cur, err := processStart(pid); err != nil || cur != start || now.After(fromNanos(expires)) {
			dead = append(dead, id)
		}
	}
	rows.Close()
	for _, id := range dead {
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM leases WHERE id = ?`, id); err != nil {
			return err
		}
	}
	return nil
}

// sweep moves everything unreachable into trash/ and forgets it. It runs
// inside the write transaction so no lease can be taken meanwhile.
func (tx *Tx) sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	m, err := tx.mark(ctx)
	if err != nil {
		return res, err
	}
	s := tx.s
	trash := filepath.Join(s.root, trashDir, randomHex())
	if err := os.MkdirAll(trash, 0o700); err != nil {
		return res, err
	}
	algs, _ := os.ReadDir(filepath.Join(s.root, blobsDir))
	for _, alg := range algs {
		entries, _ := os.ReadDir(filepath.Join(s.root, blobsDir, alg.Name()))
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), e.Name())
			if m.blobs[d.String()] {
				continue
			}
			if fi, err := e.Info(); err == nil {
				res.Bytes += fi.Size()
			}
			if err := os.Rename(s.blobPath(d), filepath.Join(trash, "blob-"+alg.Name()+"-"+e.Name())); err != nil {
				return res, fmt.Errorf("removing blob %s: %w", d, err)
			}
			if _, err := tx.tx.ExecContext(ctx, `DELETE FROM layer_blobs WHERE blob = ? AND registry = ''`, d.String()); err != nil {
				return res, err
			}
			res.Blobs = append(res.Blobs, d)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(s.root, layersDir))
	for _, e := range entries {
		if !e.IsDir() || e.Name() == layerTmpDir {
			continue
		}
		chain := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if m.layers[chain.String()] {
			continue
		}
		info, err := s.Layer(chain)
		if err != nil {
			info = LayerInfo{ChainID: chain}
		}
		if err := os.Rename(s.layerPath(chain), filepath.Join(trash, "layer-"+e.Name())); err != nil {
			return res, fmt.Errorf("removing layer %s: %w", chain, err)
		}
		res.Layers = append(res.Layers, info)
		res.Bytes += info.Size
	}
	orderTopFirst(res.Layers)
	s.sweepStale()
	return res, nil
}

// orderTopFirst sorts removed layers so that a layer comes before its
// parent, as Docker prints them.
func orderTopFirst(layers []LayerInfo) {
	depth := map[digest.Digest]int{}
	byID := map[digest.Digest]LayerInfo{}
	for _, l := range layers {
		byID[l.ChainID] = l
	}
	var d func(digest.Digest) int
	d = func(c digest.Digest) int {
		if v, ok := depth[c]; ok {
			return v
		}
		l, ok := byID[c]
		if !ok || l.Parent == "" {
			depth[c] = 0
			return 0
		}
		depth[c] = d(l.Parent) + 1
		return depth[c]
	}
	for i := 1; i < len(layers); i++ { // insertion sort: lists are short
		for j := i; j > 0 && d(layers[j].ChainID) > d(layers[j-1].ChainID); j-- {
			layers[j], layers[j-1] = layers[j-1], layers[j]
		}
	}
}

// staleIngest is how long an abandoned partial download is kept for resuming.
const staleIngest = 24 * time.Hour

// sweepStale removes what killed processes left: unpacking directories and
// lock files nobody holds, and partial downloads nobody resumed in a day.
func (s *Store) sweepStale() {
	tmp := filepath.Join(s.root, layersDir, layerTmpDir)
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			if _, err := os.Stat(filepath.Join(tmp, e.Name()+".lock")); err != nil {
				removeAll(filepath.Join(tmp, e.Name())) // no lock file: never locked, or its owner finished
			}
			continue
		}
		lockFile := filepath.Join(tmp, e.Name())
		if l, ok, _ := tryLockPath(lockFile); ok {
			removeAll(strings.TrimSuffix(lockFile, ".lock"))
			l.release()
		}
	}
	ingests, _ := os.ReadDir(filepath.Join(s.root, ingestDir))
	for _, e := range ingests {
		dir := filepath.Join(s.root, ingestDir, e.Name())
		l, ok, _ := tryLockPath(filepath.Join(dir, "lock"))
		if !ok {
			if _, err := os.Stat(filepath.Join(dir, "lock")); err == nil {
				continue // in use
			}
		}
		fi, err := os.Stat(filepath.Join(dir, "data"))
		stale := err != nil || time.Since(fi.ModTime()) > staleIngest || strings.HasPrefix(e.Name(), "tmp-")
		if alg, hex, ok := strings.Cut(e.Name(), "-"); ok && s.HasBlob(digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)) {
			stale = true
		}
		if stale {
			os.RemoveAll(dir)
		}
		if l != nil {
			l.unlock()
		}
	}
	locks, _ := os.ReadDir(filepath.Join(s.root, locksDir))
	for _, e := range locks {
		if l, ok, _ := tryLockPath(filepath.Join(s.root, locksDir, e.Name())); ok {
			l.release()
		}
	}
}

func (s *Store) emptyTrash() {
	entries, _ := os.ReadDir(filepath.Join(s.root, trashDir))
	for _, e := range entries {
		removeAll(filepath.Join(s.root, trashDir, e.Name()))
	}
}

// processStart is a process's start time in clock ticks since boot, which
// tells a live process from a later one that reused its pid.
func processStart(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields resume after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseInt(fields[19], 10, 64) // field 22, starttime
}
