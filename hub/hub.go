// Package hub is berth's image hub as an http.Handler: the OCI distribution
// API (pull, push, mount, tags, referrers, delete), Docker's v1 search, Docker
// token authentication, accounts, stars, badges, the hub JSON API under
// /api/v1/, health and metrics, and online garbage collection.
//
// Content bytes live in a blobs.Store and facts about them in a meta.Store;
// package cache wraps both to keep what pulls read most in memory, and the
// hub follows the metadata's change log so that changes made by another
// process (`berth hub user add`, another hub on PostgreSQL) reach the caches
// within one poll interval.
//
// The Hub itself is wiring, along seams as in distribution: package
// registry serves /v2/ and collects garbage, package access authenticates
// and authorizes requests and serves /token, package api serves the JSON
// API and v1 search, package cache fronts the stores, package metrics
// counts, and package web draws the pages on top of the JSON API.
package hub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/analysis"
	"github.com/berth-dev/berth/hub/api"
	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/cache"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/metrics"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/hub/registry"
	"github.com/berth-dev/berth/hub/search"
	"github.com/berth-dev/berth/hub/token"
	"github.com/berth-dev/berth/vuln"
)

// Hub serves the hub's HTTP API: it holds the pieces and routes requests
// to them.
type Hub struct {
	cfg     Config
	log     *slog.Logger
	blobs   *cache.Blobs
	meta    *cache.Store
	tokens  *token.Issuer
	realm   string
	service string
	index   *search.Index
	metrics *metrics.Metrics

	access   *access.Controller
	registry *registry.Registry
	api      *api.API
	analysis *analysis.Analyser
	web      webPages

	ownMeta  bool
	changeMu sync.Mutex
	lastSeq  int64
	stop     context.CancelFunc
	wg       sync.WaitGroup
	seeded   chan struct{}
}

// New opens a hub. Close releases it.
func New(ctx context.Context, cfg Config) (*Hub, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Hub{
		cfg: cfg, log: cfg.Logger,
		realm: cfg.PublicURL + "/token", service: cfg.Service,
		index: search.New(), seeded: make(chan struct{}),
	}
	h.metrics = metrics.New(h.index.Len)
	if err := h.open(ctx); err != nil {
		return nil, err
	}
	h.access = access.New(access.Config{
		Open: cfg.Open, Realm: h.realm, Service: h.service,
		TokenTTL: cfg.TokenTTL, RefreshTTL: cfg.RefreshTTL,
		SignInFailures: cfg.SignInFailures, SignInFailuresPerIP: cfg.SignInFailuresPerIP,
		SignInWindow: cfg.SignInWindow, SignInBackoff: cfg.SignInBackoff,
		Logger: cfg.Logger, PasswordChecks: h.metrics.PasswordChecks, SignInRefusals: h.metrics.SignInRefusals,
	}, h.meta, h.tokens)
	h.registry = registry.New(registry.Config{
		Open: cfg.Open, UploadIdleTimeout: cfg.UploadIdleTimeout, BodyIdleTimeout: cfg.BodyIdleTimeout,
		GCGrace: cfg.GCGrace, UploadMaxAge: cfg.UploadMaxAge, Logger: cfg.Logger,
		OnManifest: func(m meta.Manifest) { h.analysis.Enqueue(m) },
	}, h.meta, h.blobs, h.access)
	vulnDB := cfg.VulnDB
	if vulnDB == "" && cfg.Root != "" {
		vulnDB = vuln.DefaultPath(cfg.Root)
	}
	h.analysis = analysis.New(analysis.Config{Workers: cfg.AnalysisWorkers, DBPath: vulnDB, Logger: cfg.Logger}, h.meta, h.blobs)
	h.api = api.New(api.Config{Realm: h.realm, Service: h.service, Logger: cfg.Logger}, h.meta, h.blobs, h.index, h.access, h.analysis)
	h.start()
	return h, nil
}

// open opens the stores the configuration did not give, wraps them in the
// caches and loads the token key.
func (h *Hub) open(ctx context.Context) (err error) {
	cfg := h.cfg
	if cfg.Root != "" {
		// The root holds password hashes, private images and the
		// signing key: the hub's user's alone, a root made before too.
		if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
			return fmt.Errorf("hub root: %w", err)
		}
		if err := os.Chmod(cfg.Root, 0o700); err != nil {
			return fmt.Errorf("hub root: %w", err)
		}
	}
	bs, ms := cfg.Blobs, cfg.Meta
	if bs == nil {
		if bs, err = blobs.NewFS(cfg.Root); err != nil {
			return err
		}
	}
	h.blobs = cache.NewBlobs(bs, 64<<20)
	if ms == nil {
		if ms, err = meta.OpenSQLite(ctx, filepath.Join(cfg.Root, "hub.db")); err != nil {
			return err
		}
		h.ownMeta = true
		defer func() {
			if err != nil {
				ms.Close()
			}
		}()
	}
	keyDir := cfg.Root
	if keyDir == "" {
		keyDir = os.TempDir()
	}
	key, err := token.LoadOrCreateKey(filepath.Join(keyDir, "keys", "token.pem"))
	if err != nil {
		return err
	}
	h.tokens = token.NewIssuer(key, "berth-hub", cfg.Service, cfg.TokenTTL)
	// The change log's end is read before the repositories, so a change
	// made in between is applied again rather than missed.
	if h.lastSeq, err = ms.LastChange(ctx); err != nil {
		return fmt.Errorf("hub: reading the change log: %w", err)
	}
	h.meta, err = cache.New(ctx, ms, h.indexRepo)
	return err
}

// start runs the background work: analysis, the change log, pull counts,
// the collector and seeding.
func (h *Hub) start() {
	cfg := h.cfg
	bg, stop := context.WithCancel(context.Background())
	h.stop = stop
	h.analysis.Start(bg)
	h.goLoop(bg, cfg.ChangePoll, h.followChanges)
	h.goLoop(bg, 10*time.Second, h.flushPulls)
	if cfg.GCInterval > 0 {
		h.goLoop(bg, cfg.GCInterval, func(ctx context.Context) {
			if _, err := h.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("garbage collection failed", "err", err)
			}
		})
	}
	if cfg.Seed == nil {
		close(h.seeded)
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(h.seeded)
		if err := h.seed(bg, *cfg.Seed); err != nil && bg.Err() == nil {
			h.log.Error("seeding the welcome image failed", "err", err)
		}
	}()
}

func (h *Hub) goLoop(ctx context.Context, every time.Duration, fn func(context.Context)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
}

// Seeded is closed once seeding has finished (at once without a seed).
func (h *Hub) Seeded() <-chan struct{} { return h.seeded }

// Meta is the hub's metadata store, for operator commands and tests; what
// is written through it reaches the hub's caches at once.
func (h *Hub) Meta() meta.Store { return h.meta }

// Blobs is the hub's blob store.
func (h *Hub) Blobs() blobs.Store { return h.blobs }

// Close stops the background work, saves pull counts and closes the
// metadata store if the hub opened it.
func (h *Hub) Close() error {
	h.stop()
	h.wg.Wait()
	h.flushPulls(context.Background())
	h.analysis.Close()
	return h.closeMeta()
}

func (h *Hub) closeMeta() error {
	if h.ownMeta {
		return h.meta.Close()
	}
	return nil
}

// followChanges hands the change log's new entries to the caches.
func (h *Hub) followChanges(ctx context.Context) {
	h.changeMu.Lock()
	defer h.changeMu.Unlock()
	for {
		cs, err := h.meta.Changes(ctx, h.lastSeq, 1000)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("reading the change log", "err", err)
			}
			return
		}
		for _, c := range cs {
			h.meta.Apply(ctx, c)
			if c.Kind == meta.ChangeAccount {
				h.access.AccountChanged(c.Name)
			}
			h.lastSeq = c.Seq
		}
		if len(cs) < 1000 {
			return
		}
	}
}

// indexRepo keeps the search index in step with the repository cache.
func (h *Hub) indexRepo(name string, r meta.Repo, ok bool) {
	if !ok {
		h.index.Remove(names.Display(name))
		return
	}
	h.index.Put(searchEntry(r))
}

func (h *Hub) flushPulls(ctx context.Context) {
	if err := h.registry.FlushPulls(ctx); err != nil {
		h.log.Warn("saving pull counts", "err", err)
	}
}

// GCStats says what a collection removed.
type GCStats = registry.GCStats

// CollectGarbage removes content that is unreachable and older than the
// grace period, while pushes and pulls go on (see the registry package).
func (h *Hub) CollectGarbage(ctx context.Context) (GCStats, error) {
	st, err := h.registry.CollectGarbage(ctx)
	if err != nil {
		return st, err
	}
	h.metrics.GCRuns.Inc()
	h.metrics.GCBlobs.Add(float64(st.Blobs))
	h.metrics.GCManifests.Add(float64(st.Manifests))
	return st, nil
}

// PutManifest stores a manifest in repo (a canonical name) after checking
// that what it names is there, and points the tags at it: what a manifest
// PUT does, and what seeding and tests use to put images in.
func (h *Hub) PutManifest(ctx context.Context, repo string, d digest.Digest, mediaType string, body []byte, tags ...string) (meta.Manifest, error) {
	return h.registry.PutManifest(ctx, repo, d, mediaType, body, tags...)
}

func searchEntry(r meta.Repo) search.Entry {
	return search.Entry{
		Name: names.Display(r.Name), Repo: r.Name, Description: r.Description,
		Stars: r.Stars, Pulls: r.Pulls, Badge: r.Badge, Private: r.Private,
		Namespace: names.Namespace(r.Name), LastPushed: r.LastPushed,
	}
}
