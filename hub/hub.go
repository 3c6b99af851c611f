// Package hub is berth's image hub as an http.Handler: the OCI distribution
// API (pull, push, mount, tags, referrers, delete), Docker's v1 search, Docker
// token authentication, accounts, stars, badges, the hub JSON API under
// /api/v1/, health and metrics, and online garbage collection.
//
// Content bytes live in a blobs.Store and facts about them in a meta.Store;
// the hub keeps what pulls read most (repositories, tag to manifest, small
// blobs) in memory, and follows the metadata's change log so that changes made
// by another process (`berth hub user add`, another hub on PostgreSQL) reach
// its caches within one poll interval.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/metrics"
	"github.com/berth-dev/berth/hub/search"
	"github.com/berth-dev/berth/hub/token"
)

// Config builds a Hub. The zero value of every field but Root has a default.
type Config struct {
	// Root holds the blobs, the database and the token key unless Blobs and
	// Meta are given.
	Root string
	// PublicURL is where clients reach the hub; the token realm is
	// PublicURL + "/token". Default http://127.0.0.1:5000.
	PublicURL string
	// Service is the token service name; default PublicURL's host.
	Service string
	// Open lets anyone do anything, anonymous push included: for local
	// tinkering and the conformance suite.
	Open bool

	Blobs  blobs.Store
	Meta   meta.Store
	Logger *slog.Logger

	TokenTTL   time.Duration // access tokens, default 5 minutes
	RefreshTTL time.Duration // refresh tokens (docker login), default 90 days

	// Password guessing is throttled: after SignInFailures failed password
	// checks in a row for one account name (default 5), or
	// SignInFailuresPerIP from one client address across names (default
	// 20; IPv6 counts by /64), within SignInWindow (default 15 minutes),
	// that name or address is refused for SignInBackoff (default 15
	// minutes) with 429 Too Many Requests, before any password is checked.
	// A negative limit turns it off: behind a proxy every client has the
	// proxy's address, and the hub does not believe X-Forwarded-For.
	SignInFailures      int
	SignInFailuresPerIP int
	SignInWindow        time.Duration
	SignInBackoff       time.Duration

	// GCInterval is how often unreachable content is collected (default 1
	// hour; negative turns the collector off). GCGrace is how long content
	// stays after it was last uploaded, linked or looked at, even if nothing
	// refers to it (default 1 hour). UploadMaxAge is how long an idle upload
	// is kept (default 24 hours).
	GCInterval   time.Duration
	GCGrace      time.Duration
	UploadMaxAge time.Duration
	// UploadIdleTimeout is how long an upload's request body may send
	// nothing before the hub drops it (default 2 minutes): the upload is
	// locked while its body arrives, and a client gone without closing its
	// connection would otherwise hold it until TCP keepalive notices.
	UploadIdleTimeout time.Duration

	// ChangePoll is how often the change log is read (default 1 second).
	ChangePoll time.Duration

	// Seed, when set, puts the welcome image in an empty hub.
	Seed *SeedConfig

	// VulnDB is the OSV database pushed images are matched against
	// (default Root/vuln/osv.db); while it is missing, analyses say so.
	// AnalysisWorkers is how many images are analysed at once in the
	// background (default 1; negative turns analysis off).
	VulnDB          string
	AnalysisWorkers int
}

// Hub serves the hub's HTTP API.
type Hub struct {
	cfg     Config
	log     *slog.Logger
	blobs   blobs.Store
	meta    meta.Store
	tokens  *token.Issuer
	realm   string
	service string
	index   *search.Index
	metrics *metrics.Metrics

	repos     *repoCache
	manifests *manifestCache
	small     *blobCache
	links     *linkCache
	locks     digestLocks
	touched   touchMap
	pulls     pullCounter
	passwords passwordCache
	signIns   *signInLimiter
	analysis  *analyser
	web       webPages

	ownMeta  bool
	changeMu sync.Mutex
	lastSeq  int64
	stop     context.CancelFunc
	wg       sync.WaitGroup
	seeded   chan struct{}
}

// New opens a hub. Close releases it.
func New(ctx context.Context, cfg Config) (*Hub, error) {
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://127.0.0.1:5000"
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("public URL %q: want http(s)://host[:port]", cfg.PublicURL)
	}
	cfg.PublicURL = u.Scheme + "://" + u.Host + trimSlash(u.Path)
	if cfg.Service == "" {
		cfg.Service = u.Host
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	setDefault(&cfg.TokenTTL, 5*time.Minute)
	setDefault(&cfg.RefreshTTL, 90*24*time.Hour)
	setDefault(&cfg.GCInterval, time.Hour)
	setDefault(&cfg.GCGrace, time.Hour)
	setDefault(&cfg.UploadMaxAge, 24*time.Hour)
	setDefault(&cfg.UploadIdleTimeout, 2*time.Minute)
	setDefault(&cfg.ChangePoll, time.Second)
	setDefault(&cfg.SignInWindow, 15*time.Minute)
	setDefault(&cfg.SignInBackoff, 15*time.Minute)
	if cfg.SignInFailures == 0 {
		cfg.SignInFailures = 5
	}
	if cfg.SignInFailuresPerIP == 0 {
		cfg.SignInFailuresPerIP = 20
	}
	if cfg.Root == "" && (cfg.Blobs == nil || cfg.Meta == nil) {
		return nil, errors.New("hub: no root directory")
	}
	h := &Hub{
		cfg: cfg, log: cfg.Logger, blobs: cfg.Blobs, meta: cfg.Meta,
		realm: cfg.PublicURL + "/token", service: cfg.Service,
		index: search.New(),
		repos: newRepoCache(), manifests: newManifestCache(), small: newBlobCache(64 << 20), links: newLinkCache(),
		seeded: make(chan struct{}),
	}
	h.metrics = metrics.New(h.index.Len)
	h.signIns = newSignInLimiter(cfg, cfg.Logger)
	if cfg.Root != "" {
		if err := os.MkdirAll(cfg.Root, 0o755); err != nil {
			return nil, fmt.Errorf("hub root: %w", err)
		}
	}
	if h.blobs == nil {
		if h.blobs, err = blobs.NewFS(cfg.Root); err != nil {
			return nil, err
		}
	}
	if h.meta == nil {
		if h.meta, err = meta.OpenSQLite(ctx, filepath.Join(cfg.Root, "hub.db")); err != nil {
			return nil, err
		}
		h.ownMeta = true
	}
	keyDir := cfg.Root
	if keyDir == "" {
		keyDir = os.TempDir()
	}
	key, err := token.LoadOrCreateKey(filepath.Join(keyDir, "keys", "token.pem"))
	if err != nil {
		h.closeMeta()
		return nil, err
	}
	h.tokens = token.NewIssuer(key, "berth-hub", cfg.Service, cfg.TokenTTL)
	if h.lastSeq, err = h.meta.LastChange(ctx); err != nil {
		h.closeMeta()
		return nil, fmt.Errorf("hub: reading the change log: %w", err)
	}
	if err := h.loadRepos(ctx); err != nil {
		h.closeMeta()
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	h.stop = stop
	h.analysis = newAnalyser(h, cfg.AnalysisWorkers, cfg.VulnDB)
	h.analysis.start(bg)
	h.goLoop(bg, cfg.ChangePoll, h.followChanges)
	h.goLoop(bg, 10*time.Second, h.flushPulls)
	if cfg.GCInterval > 0 {
		h.goLoop(bg, cfg.GCInterval, func(ctx context.Context) {
			if _, err := h.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("garbage collection failed", "err", err)
			}
		})
	}
	if cfg.Seed != nil {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer close(h.seeded)
			if err := h.seed(bg, *cfg.Seed); err != nil && bg.Err() == nil {
				h.log.Error("seeding the welcome image failed", "err", err)
			}
		}()
	} else {
		close(h.seeded)
	}
	return h, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
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

// Meta is the hub's metadata store, for operator commands and tests.
func (h *Hub) Meta() meta.Store { return h.meta }

// Blobs is the hub's blob store.
func (h *Hub) Blobs() blobs.Store { return h.blobs }

// Close stops the background work, saves pull counts and closes the
// metadata store if the hub opened it.
func (h *Hub) Close() error {
	h.stop()
	h.wg.Wait()
	h.flushPulls(context.Background())
	h.analysis.close()
	return h.closeMeta()
}

func (h *Hub) closeMeta() error {
	if h.ownMeta {
		return h.meta.Close()
	}
	return nil
}

// loadRepos fills the repository cache and the search index.
func (h *Hub) loadRepos(ctx context.Context) error {
	return h.meta.WalkRepos(ctx, func(r meta.Repo) error {
		h.repos.put(r)
		h.index.Put(searchEntry(r))
		return nil
	})
}

// followChanges applies the change log's new entries to the caches.
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
			h.applyChange(ctx, c.Kind, c.Name)
			h.lastSeq = c.Seq
		}
		if len(cs) < 1000 {
			return
		}
	}
}

// applyChange drops what a change made stale.
func (h *Hub) applyChange(ctx context.Context, kind, name string) {
	switch kind {
	case meta.ChangeRepo, meta.ChangeTags, meta.ChangeManifests:
		h.manifests.invalidate(name)
		h.refreshRepo(ctx, name)
	case meta.ChangeBlobs:
		h.links.invalidate(name)
	case meta.ChangeAccount:
		h.passwords.forget(name)
	}
}

// refreshRepo rereads one repository into the cache and the index.
func (h *Hub) refreshRepo(ctx context.Context, name string) {
	r, err := h.meta.Repo(ctx, name)
	if err != nil {
		h.repos.remove(name)
		h.index.Remove(displayName(name))
		return
	}
	h.repos.put(r)
	h.index.Put(searchEntry(r))
}

func (h *Hub) flushPulls(ctx context.Context) {
	counts := h.pulls.take()
	if len(counts) == 0 {
		return
	}
	if err := h.meta.AddPulls(ctx, counts); err != nil {
		h.log.Warn("saving pull counts", "err", err)
		return
	}
	for name := range counts {
		h.refreshRepo(ctx, name)
	}
}

func searchEntry(r meta.Repo) search.Entry {
	return search.Entry{
		Name: displayName(r.Name), Repo: r.Name, Description: r.Description,
		Stars: r.Stars, Pulls: r.Pulls, Badge: r.Badge, Private: r.Private,
		Namespace: namespace(r.Name), LastPushed: r.LastPushed,
	}
}
