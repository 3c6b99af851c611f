package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/api"
	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/vuln"
)

// Background analysis of pushed images: each image manifest gets an
// inventory of its packages (read from the compressed layer blobs as they
// are stored, never unpacked) and a vulnerability summary from the hub's OSV
// database. A push only drops its manifest into a bounded queue and never
// waits; what does not fit, and what a stopped hub had not finished, is found
// again by a sweep of the tagged manifests that have no analysis.

const (
	analysisQueue = 256
	// dbInfoTTL is how long the database's description is trusted before
	// it is read again, to notice an update made beside a running hub.
	dbInfoTTL = 30 * time.Second
)

type analysisJob struct {
	repo      string
	digest    digest.Digest
	mediaType string
}

type analyser struct {
	h       *Hub
	workers int
	queue   chan analysisJob
	dropped atomic.Bool

	mu      sync.Mutex
	pending map[digest.Digest]bool

	dbPath string
	dbMu   sync.Mutex
	db     *vuln.DB
	dbInfo *vuln.Info
	infoAt time.Time
}

func newAnalyser(h *Hub, workers int, dbPath string) *analyser {
	if workers == 0 {
		workers = 1
	}
	if dbPath == "" && h.cfg.Root != "" {
		dbPath = vuln.DefaultPath(h.cfg.Root)
	}
	return &analyser{h: h, workers: workers, queue: make(chan analysisJob, analysisQueue), pending: map[digest.Digest]bool{}, dbPath: dbPath}
}

// Enabled reports whether pushed images are analysed.
func (a *analyser) Enabled() bool { return a.workers > 0 }

// start runs the workers and a first sweep, which takes up what a stopped
// hub left unanalysed; later sweeps run only after the queue overflowed.
func (a *analyser) start(ctx context.Context) {
	if !a.Enabled() {
		return
	}
	for range a.workers {
		a.h.wg.Add(1)
		go func() {
			defer a.h.wg.Done()
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
	a.h.wg.Add(1)
	go func() {
		defer a.h.wg.Done()
		a.sweep(ctx)
	}()
	a.h.goLoop(ctx, time.Minute, func(ctx context.Context) {
		if a.dropped.Swap(false) {
			a.sweep(ctx)
		}
	})
}

// Enqueue asks for a manifest to be analysed, without ever blocking.
func (a *analyser) Enqueue(m meta.Manifest) {
	if !a.Enabled() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending[m.Digest] {
		return
	}
	select {
	case a.queue <- analysisJob{repo: m.Repo, digest: m.Digest, mediaType: m.MediaType}:
		a.pending[m.Digest] = true
	default:
		a.dropped.Store(true)
	}
}

func (a *analyser) sweep(ctx context.Context) {
	ms, err := a.h.meta.Unanalysed(ctx, analysisQueue)
	if err != nil {
		if ctx.Err() == nil {
			a.h.log.Warn("listing manifests to analyse", "err", err)
		}
		return
	}
	for _, m := range ms {
		a.Enqueue(m)
	}
	if len(ms) == analysisQueue {
		a.dropped.Store(true) // there may be more: look again next round
	}
}

func (a *analyser) run(ctx context.Context, j analysisJob) {
	defer func() {
		a.mu.Lock()
		delete(a.pending, j.digest)
		a.mu.Unlock()
	}()
	if prev, err := a.h.meta.Analysis(ctx, j.digest); err == nil && prev.Status != meta.AnalysisFailed {
		return // the same content pushed again, or another hub was quicker
	}
	start := time.Now()
	res, pkgs := a.analyse(ctx, j)
	if ctx.Err() != nil {
		return // shutting down: the next start takes it up again
	}
	res.Digest, res.Analysed = j.digest, time.Now()
	if err := a.h.meta.PutAnalysis(ctx, res); err != nil {
		if !errors.Is(err, errdefs.ErrNotFound) {
			a.h.log.Warn("storing an analysis", "repository", j.repo, "digest", j.digest, "err", err)
		}
		return
	}
	a.h.log.Info("analysed an image", "repository", j.repo, "digest", j.digest, "status", res.Status,
		"packages", pkgs, "error", res.Error, "duration", time.Since(start))
}

// analyse reads an image's inventory from its layer blobs and matches it.
func (a *analyser) analyse(ctx context.Context, j analysisJob) (meta.Analysis, int) {
	failed := func(err error) (meta.Analysis, int) {
		return meta.Analysis{Status: meta.AnalysisFailed, Error: err.Error()}, 0
	}
	body, err := a.h.blobs.ReadAll(ctx, j.digest)
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
	raw, err := a.h.blobs.ReadAll(ctx, m.Config.Digest)
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
		layers[i] = blobLayer{blobs: a.h.blobs, digest: l.Digest, diffID: cfg.RootFS.DiffIDs[i]}
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
	blobs  blobs.Store
	digest digest.Digest
	diffID digest.Digest
}

func (l blobLayer) DiffID() digest.Digest { return l.diffID }
func (l blobLayer) Open(ctx context.Context) (io.ReadCloser, error) {
	return l.blobs.Open(ctx, l.digest)
}

// match matches an inventory against the hub's database, if it has one.
func (a *analyser) match(ctx context.Context, s *sbom.SBOM) api.VulnSummary {
	db, info, err := a.database(ctx)
	if err != nil || db == nil {
		v := api.Summarise([]vuln.Finding{})
		v.Database, v.Message = "none", "no database"
		if err != nil {
			v.Message = "no database: " + err.Error()
		}
		return v
	}
	res, err := vuln.Match(ctx, db, s)
	if err != nil {
		v := api.Summarise([]vuln.Finding{})
		v.Database, v.Message = "none", "no database: "+err.Error()
		return v
	}
	v := api.Summarise(res.Findings)
	v.DatabaseUpdated, v.Warnings = info.Updated, res.Warnings
	return v
}

// database opens the vulnerability database once it exists and holds
// advisories, and describes it (re-read every dbInfoTTL). It answers nil
// while there is none; a database put in place later is picked up.
func (a *analyser) database(ctx context.Context) (*vuln.DB, *vuln.Info, error) {
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
	if a.dbInfo == nil || time.Since(a.infoAt) > dbInfoTTL {
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
func (a *analyser) Fresh(ctx context.Context, an meta.Analysis) meta.Analysis {
	if an.Status != meta.AnalysisDone {
		return an
	}
	_, info, err := a.database(ctx)
	if err != nil || info == nil {
		return an
	}
	var old api.VulnSummary
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
	if err := a.h.meta.PutAnalysis(ctx, an); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		a.h.log.Warn("storing a refreshed analysis", "digest", an.Digest, "err", err)
	}
	return an
}

func (a *analyser) close() {
	a.dbMu.Lock()
	defer a.dbMu.Unlock()
	if a.db != nil {
		a.db.Close()
		a.db = nil
	}
}
