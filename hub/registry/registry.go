// Package registry is the hub's OCI distribution API under /v2/: pulls,
// pushes (monolithic, chunked, cross-repository mounts), tags, referrers,
// the catalog and deletes, in the manner of distribution's handlers; and
// the online garbage collector, which shares the per-digest locks and the
// record of recent looks at blobs with them.
//
// It stores through the caches (package cache) and asks an access
// controller (package access) who may do what.
package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/cache"
	"github.com/berth-dev/berth/hub/errcode"
	"github.com/berth-dev/berth/hub/idle"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
)

// Config says how the registry behaves; the hub fills in the defaults.
type Config struct {
	// Open lets anyone do anything; a mount without a source repository
	// may then take the blob from any repository.
	Open bool
	// UploadIdleTimeout is how long an upload's body may send nothing.
	UploadIdleTimeout time.Duration
	// BodyIdleTimeout is how long other bodies (manifests) may take to
	// send each few KiB; see package idle.
	BodyIdleTimeout time.Duration
	// GCGrace is how long unreferenced content stays; UploadMaxAge how
	// long an idle upload is kept.
	GCGrace, UploadMaxAge time.Duration
	Logger                *slog.Logger
	// OnManifest, if set, hears of every manifest pushed.
	OnManifest func(meta.Manifest)
}

// Store is what the handlers and the collector keep their facts in: the
// metadata's content records, with the caches of package cache in front.
type Store interface {
	meta.Content
	meta.Walker
	ListRepos(ctx context.Context, after string, n int) ([]string, error)
	AddPulls(ctx context.Context, counts map[string]int64) error
	TrimChanges(ctx context.Context, before time.Time) error
	// Lookup returns a repository's record from memory.
	Lookup(name string) (meta.Repo, bool)
	// HasLink reports whether repo may serve d, from memory when it can.
	HasLink(ctx context.Context, repo string, d digest.Digest) bool
	// CachedManifest and KeepManifest are the manifests ready to serve;
	// the store drops them on its own writes.
	CachedManifest(repo, ref string) (*cache.Manifest, uint64)
	KeepManifest(repo, ref string, gen uint64, m *cache.Manifest)
}

// Blobs is the blob store with small blobs kept in memory.
type Blobs interface {
	blobs.Store
	Cached(d digest.Digest) ([]byte, bool)
	Keep(d digest.Digest, data []byte)
	ReadAll(ctx context.Context, d digest.Digest) ([]byte, error)
}

// Access is what the handlers ask of an access controller.
type Access interface {
	// Identify finds who sent r; a bad credential is an error.
	Identify(r *http.Request) (access.Identity, error)
	// Authorize lets r through if it may do all the actions on the named
	// repository, and answers it otherwise.
	Authorize(w http.ResponseWriter, r *http.Request, name string, actions ...string) bool
	// Allowed is Authorize without the answer.
	Allowed(r *http.Request, name string, actions ...string) bool
	// Challenge answers 401 with a WWW-Authenticate challenge.
	Challenge(w http.ResponseWriter, r *http.Request, name string, actions []string, errCode, msg string)
	CanPull(id access.Identity, repo string) bool
	// CrossSite reports a browser's credentialed change from another site.
	CrossSite(r *http.Request) bool
}

// Registry serves /v2/ and collects garbage.
type Registry struct {
	cfg    Config
	log    *slog.Logger
	meta   Store
	blobs  Blobs
	access Access

	locks   digestLocks
	touched touchMap
	pulls   pullCounter
}

// New makes a registry on the stores.
func New(cfg Config, m Store, b Blobs, a Access) *Registry {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnManifest == nil {
		cfg.OnManifest = func(meta.Manifest) {}
	}
	return &Registry{cfg: cfg, log: cfg.Logger, meta: m, blobs: b, access: a}
}

// FlushPulls saves the pull counts gathered since the last flush.
func (reg *Registry) FlushPulls(ctx context.Context) error {
	counts := reg.pulls.take()
	if len(counts) == 0 {
		return nil
	}
	return reg.meta.AddPulls(ctx, counts)
}

// LinkBlob lets repo (canonical) serve a stored blob, as an upload or a
// mount does.
func (reg *Registry) LinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	return reg.linkBlob(ctx, repo, d)
}

// Serve answers a /v2/ request and returns its route, for metrics.
func (reg *Registry) Serve(w http.ResponseWriter, r *http.Request) string {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, ok := parseV2(r.URL.Path)
	if !ok {
		errcode.Write(w, r, errcode.New(errcode.NameUnknown, "no such endpoint"))
		return "v2-unknown"
	}
	// Every body gets a deadline before anything else, so that one the
	// handler does not read (a refused push) cannot trickle either.
	if rt.kind == "upload" {
		r.Body = idle.Body(w, r, reg.cfg.UploadIdleTimeout)
	} else {
		r.Body = idle.Body(w, r, reg.cfg.BodyIdleTimeout)
	}
	if reg.access.CrossSite(r) {
		errcode.Write(w, r, errcode.New(errcode.Denied, "a change with credentials from another site's page is refused"))
		return rt.kind
	}
	if rt.kind != "ping" && rt.kind != "catalog" && !names.Valid(rt.name) {
		errcode.Write(w, r, errcode.New(errcode.NameInvalid, fmt.Sprintf("invalid repository name %q", rt.name)))
		return rt.kind
	}
	switch rt.kind {
	case "ping":
		reg.servePing(w, r)
	case "catalog":
		reg.serveCatalog(w, r)
	case "tags":
		reg.serveTags(w, r, rt)
	case "manifest":
		reg.serveManifest(w, r, rt)
	case "blob":
		reg.serveBlob(w, r, rt)
	case "upload":
		reg.serveUpload(w, r, rt)
	case "referrers":
		reg.serveReferrers(w, r, rt)
	}
	return rt.kind
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	errcode.Write(w, r, errcode.New(errcode.Unsupported, r.Method+" is not supported here"))
}

func (reg *Registry) servePing(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	if !reg.cfg.Open {
		id, err := reg.access.Identify(r)
		if access.RefuseThrottled(w, r, err) {
			return
		}
		if err != nil || (id.User == "" && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")) {
			msg := "authentication required"
			if err != nil {
				msg = err.Error()
			}
			reg.access.Challenge(w, r, "", nil, "", msg)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "2")
	if r.Method == http.MethodGet {
		_, _ = io.WriteString(w, "{}")
	}
}
