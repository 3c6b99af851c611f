// Package analysis is the hub's background analysis of pushed images: each
// image manifest gets an inventory of its packages (read from the
// compressed layer blobs as they are stored, never unpacked) and a
// vulnerability summary from the hub's OSV database. A push only drops its
// manifest into a bounded queue and never waits; what does not fit, and
// what a stopped hub had not finished, is found again by a sweep of the
// tagged manifests that have no analysis.
package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/vuln"
)

const (
	queueLen = 256
	// dbInfoTTL is how long the database's description is trusted before
	// it is read again, to notice an update made beside a running hub.
	dbInfoTTL = 30 * time.Second
)

type job struct {
	repo      string
	digest    digest.Digest
	mediaType string
}

// Store is where analyses are kept, beside the manifests they are of.
type Store interface {
	meta.Analyses
}

// Blobs is where the manifests, configs and layers are read from.
type Blobs interface {
	Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error)
	ReadAll(ctx context.Context, d digest.Digest) ([]byte, error)
}

// Config says how much to analyse and against what.
type Config struct {
	// Workers is how many images are analysed at once (default 1;
	// negative turns analysis off).
	Workers int
	// DBPath is the OSV database; while it is missing, analyses say so.
	DBPath string
	Logger *slog.Logger
}

// Analyser analyses pushed images in the background.
type Analyser struct {
	store   Store
	blobs   Blobs
	log     *slog.Logger
	workers int
	queue   chan job
	dropped atomic.Bool
	wg      sync.WaitGroup

	mu      sync.Mutex
	pending map[digest.Digest]bool

	dbPath string
	dbMu   sync.Mutex
	db     *vuln.DB
	dbInfo *vuln.Info
	infoAt time.Time
}

// New makes an analyser; Start sets it to work.
func New(cfg Config, store Store, b Blobs) *Analyser {
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Analyser{store: store, blobs: b, log: cfg.Logger, workers: cfg.Workers, queue: make(chan job, queueLen), pending: map[digest.Digest]bool{}, dbPath: cfg.DBPath}
}

// Enabled reports whether pushed images are analysed.
func (a *Analyser) Enabled() bool { return a.workers > 0 }

// Start runs the workers and a first sweep, which takes up what a stopped
// hub left unanalysed; later sweeps run only after the queue overflowed.
func (a *Analyser) Start(ctx context.Context) {
	if !a.Enabled() {
		return
	}
	for range a.workers {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-a.queue:
					a.run(ctx, j)
				}
			}
		}()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.sweep(ctx)
	}()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if a.dropped.Swap(false) {
					a.sweep(ctx)
				}
			}
		}
	}()
}

// Enqueue asks for a manifest to be analysed, without ever blocking.
func (a *Analyser) Enqueue(m meta.Manifest) {
	if !a.Enabled() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending[m.Digest] {
		return
	}
	select {
	case a.queue <- job{repo: m.Repo, digest: m.Digest, mediaType: m.MediaType}:
		a.pending[m.Digest] = true
	default:
		a.dropped.Store(true)
	}
}

func (a *Analyser) sweep(ctx context.Context) {
	ms, err := a.store.Unanalysed(ctx, queueLen)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("listing manifests to analyse", "err", err)
		}
		return
	}
	for _, m := range ms {
		a.Enqueue(m)
	}
	if len(ms) == queueLen {
		a.dropped.Store(true) // there may be more: look again next round
	}
}

func (a *Analyser) run(ctx context.Context, j job) {
	defer func() {
		a.mu.Lock()
		delete(a.pending, j.digest)
		a.mu.Unlock()
	}()
	if prev, err := a.store.Analysis(ctx, j.digest); err == nil && prev.Status != meta.AnalysisFailed {
		return // the same content pushed again, or another hub was quicker
	}
	start := time.Now()
	res, pkgs := a.analyse(ctx, j)
	if ctx.Err() != nil {
		return // shutting down: the next start takes it up again
	}
	res.Digest, res.Analysed = j.digest, time.Now()
	if err := a.store.PutAnalysis(ctx, res); err != nil {
		if !errors.Is(err, errdefs.ErrNotFound) {
			a.log.Warn("storing an analysis", "repository", j.repo, "digest", j.digest, "err", err)
		}
		return
	}
	a.log.Info("analysed an image", "repository", j.repo, "digest", j.digest, "status", res.Status,
		"packages", pkgs, "error", res.Error, "duration", time.Since(start))
}

// analyse reads an image's inventory from its layer blobs and matches it.
func (a *Analyser) analyse(ctx context.Context, j job) (meta.Analysis, int) {
	failed := func(err error) (meta.Analysis, int) {
		return meta.Analysis{Status: meta.AnalysisFailed, Error: err.Error()}, 0
	}
	body, err := a.blobs.ReadAll(ctx, j.digest)
	if err != nil {
		return failed(fmt.Errorf("reading the manifest: %w", err))
	}
	p, err := image.ParseManifest(j.mediaType, body)
	if err != nil {
		return failed(err)
	}
	if p.Index != nil {
		return meta.Analysis{Status: meta.AnalysisSkipped, Error: "an image index: the image of each platform is analysed on its own"}, 0
	}
	m := p.Manifest
	if !image.IsConfig(m.Config.MediaType) {
		return meta.Analysis{Status: meta.AnalysisSkipped, Error: "not a container image (config " + m.Config.MediaType + ")"}, 0
	}
	raw, err := a.blobs.ReadAll(ctx, m.Config.Digest)
	if err != nil {
		return failed(fmt.Errorf("reading the config: %w", err))
	}
	cfg, err := image.ParseConfig(raw)
	if err != nil {
		return failed(err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return failed(fmt.Errorf("the config lists %d layers, the manifest %d", len(cfg.RootFS.DiffIDs), len(m.Layers)))
	}
	layers := make([]sbom.Layer, len(m.Layers))
	for i, l := range m.Layers {
		layers[i] = blobLayer{blobs: a.blobs, digest: l.Digest, diffID: cfg.RootFS.DiffIDs[i]}
	}
	s, err := sbom.Inventory(ctx, layers, sbom.WithParallelism(2), sbom.WithMemoryLimit(32<<20))
	if err != nil {
		return failed(err)
	}
	inv, err := json.Marshal(s)
	if err != nil {
		return failed(err)
	}
	vs, err := json.Marshal(a.match(ctx, s))
	if err != nil {
		return failed(err)
	}
	return meta.Analysis{Status: meta.AnalysisDone, Inventory: inv, Vulnerabilities: vs}, len(s.Packages)
}

// blobLayer is a layer as the hub stores it: the compressed blob, which the
// inventory decompresses as it streams through.
type blobLayer struct {
	blobs  Blobs
	digest digest.Digest
	diffID digest.Digest
}

func (l blobLayer) DiffID() digest.Digest { return l.diffID }
func (l blobLayer) Open(ctx context.Context) (io.ReadCloser, error) {
	return l.blobs.Open(ctx, l.digest)
}

// match matches an inventory against the hub's database, if it has one.
func (a *Analyser) match(ctx context.Context, s *sbom.SBOM) VulnSummary {
	db, info, err := a.database(ctx)
	if err != nil || db == nil {
		v := Summarise([]vuln.Finding{})
		v.Database, v.Message = "none", "no database"
		if err != nil {
			v.Message = "no database: " + err.Error()
		}
		return v
	}
	res, err := vuln.Match(ctx, db, s)
	if err != nil {
		v := Summarise([]vuln.Finding{})
		v.Database, v.Message = "none", "no database: "+err.Error()
		return v
	}
	v := Summarise(res.Findings)
	v.DatabaseUpdated, v.Warnings = info.Updated, res.Warnings
	return v
}

// database opens the vulnerability database once it exists and holds
// advisories, and describes it (re-read every dbInfoTTL). It answers nil
// while there is none; a database put in place later is picked up.
func (a *Analyser) database(ctx context.Context) (*vuln.DB, *vuln.Info, error) {
	a.dbMu.Lock()
	defer a.dbMu.Unlock()
	if a.db == nil {
		if a.dbPath == "" {
			return nil, nil, nil
		}
		if _, err := os.Stat(a.dbPath); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		} else if err != nil {
			return nil, nil, err
		}
		db, err := vuln.Open(ctx, a.dbPath)
		if err != nil {
			return nil, nil, err
		}
		a.db, a.dbInfo = db, nil
	}
	// An empty database is asked again every time: it may be one being
	// filled (an import opens it before it writes), and a description
	// kept for dbInfoTTL would hide the advisories once they are in.
	if a.dbInfo == nil || a.dbInfo.Advisories == 0 || time.Since(a.infoAt) > dbInfoTTL {
		info, err := a.db.Info(ctx)
		if err != nil {
			return nil, nil, err
		}
		a.dbInfo, a.infoAt = info, time.Now()
	}
	if a.dbInfo.Advisories == 0 {
		return nil, nil, nil
	}
	return a.db, a.dbInfo, nil
}

// Fresh returns an analysis whose vulnerability summary is matched against
// the database as it is now: an analysis made before the database existed
// or was last updated is matched again from its stored inventory (cheap:
// no layer is read) and stored.
func (a *Analyser) Fresh(ctx context.Context, an meta.Analysis) meta.Analysis {
	if an.Status != meta.AnalysisDone {
		return an
	}
	_, info, err := a.database(ctx)
	if err != nil || info == nil {
		return an
	}
	var old VulnSummary
	if json.Unmarshal(an.Vulnerabilities, &old) == nil && old.Database == "osv" && old.DatabaseUpdated.Equal(info.Updated) {
		return an
	}
	var s sbom.SBOM
	if err := json.Unmarshal(an.Inventory, &s); err != nil {
		return an
	}
	vs, err := json.Marshal(a.match(ctx, &s))
	if err != nil {
		return an
	}
	an.Vulnerabilities = vs
	if err := a.store.PutAnalysis(ctx, an); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		a.log.Warn("storing a refreshed analysis", "digest", an.Digest, "err", err)
	}
	return an
}

// Close waits for the workers, whose context must be done, and closes the
// database.
func (a *Analyser) Close() {
	a.wg.Wait()
	a.dbMu.Lock()
	defer a.dbMu.Unlock()
	if a.db != nil {
		a.db.Close()
		a.db = nil
	}
}
