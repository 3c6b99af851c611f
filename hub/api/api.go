// Package api is the hub's JSON API under /api/v1/, for people, scripts
// and the web pages (documented in docs/hub-api.md), and Docker's v1 search
// under /v1/, which `docker search HOST/TERM` calls. Errors are
// {"error": message} with errdefs.HTTPStatus's status for their kind.
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/hub/search"
	"github.com/berth-dev/berth/image"
)

// Config says what the API tells clients about the hub.
type Config struct {
	// Realm and Service are the token endpoint's, for v1 search's
	// challenge.
	Realm, Service string
	Logger         *slog.Logger
}

// Store is what the API reads and writes. Repositories come from memory
// (package cache), so a search or a namespace listing asks no database.
type Store interface {
	Lookup(name string) (meta.Repo, bool)
	InNamespace(ns string) []meta.Repo
	UpdateRepo(ctx context.Context, name string, u meta.RepoUpdate) (meta.Repo, error)
	User(ctx context.Context, name string) (meta.User, error)
	IsOrg(ctx context.Context, name string) (bool, error)
	Members(ctx context.Context, org string) ([]string, error)
	meta.Stars
	Tag(ctx context.Context, repo, name string) (meta.Tag, error)
	Tags(ctx context.Context, repo, after string, n int) ([]meta.Tag, error)
	Manifest(ctx context.Context, repo string, d digest.Digest) (meta.Manifest, error)
	Analysis(ctx context.Context, d digest.Digest) (meta.Analysis, error)
}

// Blobs reads small blobs whole: manifests and image configs.
type Blobs interface {
	ReadAll(ctx context.Context, d digest.Digest) ([]byte, error)
}

// Access is what the API asks of an access controller.
type Access interface {
	Identify(r *http.Request) (access.Identity, error)
	CanWrite(id access.Identity, repo string) bool
	CanPull(id access.Identity, repo string) bool
	// CrossSite reports a browser's credentialed change from another site.
	CrossSite(r *http.Request) bool
}

// Analyser is the background analysis of pushed images, as far as the API
// shows it.
type Analyser interface {
	// Enabled is false on a hub that runs without analysis.
	Enabled() bool
	// Enqueue asks for an analysis of a manifest the hub has none of.
	Enqueue(meta.Manifest)
	// Fresh rematches an analysis against the database as it is now.
	Fresh(ctx context.Context, an meta.Analysis) meta.Analysis
}

// API serves the JSON API and Docker's v1 search.
type API struct {
	cfg      Config
	log      *slog.Logger
	meta     Store
	blobs    Blobs
	index    *search.Index
	access   Access
	analysis Analyser
}

// New makes the API over the caches and the search index.
func New(cfg Config, m Store, b Blobs, index *search.Index, a Access, an Analyser) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{cfg: cfg, log: cfg.Logger, meta: m, blobs: b, index: index, access: a, analysis: an}
}

// RepoJSON is a repository as the API shows it.
type RepoJSON struct {
	Name            string    `json:"name"`
	Namespace       string    `json:"namespace"`
	Repository      string    `json:"repository"`
	Description     string    `json:"description"`
	FullDescription string    `json:"full_description,omitempty"`
	Badge           string    `json:"badge"`
	IsOfficial      bool      `json:"is_official"`
	Stars           int64     `json:"star_count"`
	Pulls           int64     `json:"pull_count"`
	Private         bool      `json:"is_private"`
	LastPushed      time.Time `json:"last_pushed,omitzero"`
	Starred         *bool     `json:"starred,omitempty"`
}

func repoJSON(r meta.Repo, full bool) RepoJSON {
	j := RepoJSON{
		Name: names.Display(r.Name), Namespace: names.Namespace(r.Name), Repository: r.Name, Description: r.Description,
		Badge: r.Badge, IsOfficial: r.Badge == meta.BadgeOfficial, Stars: r.Stars, Pulls: r.Pulls, Private: r.Private, LastPushed: r.LastPushed,
	}
	if full {
		j.FullDescription = r.FullDescription
	}
	return j
}

// jsonError answers {"error": msg}. A 401 challenges for a bearer token,
// never for Basic credentials: a browser prompts for those, remembers
// them and sends them with every later request to the hub, other sites'
// pages' requests included.
func (srv *API) jsonError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.cfg.Realm+`",service="`+srv.cfg.Service+`"`)
	}
	writeJSON(w, r, status, map[string]string{"error": msg})
}

// ServeAPI answers a request under /api/v1/.
func (srv *API) ServeAPI(w http.ResponseWriter, r *http.Request) {
	if srv.access.CrossSite(r) {
		srv.jsonError(w, r, http.StatusForbidden, "a change with credentials from another site's page is refused")
		return
	}
	id, err := srv.access.Identify(r)
	if err != nil {
		srv.jsonError(w, r, access.RefusalStatus(w, err), err.Error())
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/api/v1/")
	switch {
	case p == "search":
		srv.apiSearch(w, r, id)
	case p == "user":
		srv.apiUser(w, r, id)
	case strings.HasPrefix(p, "namespaces/"):
		srv.apiNamespace(w, r, id, strings.TrimPrefix(p, "namespaces/"))
	case strings.HasPrefix(p, "repositories/"):
		srv.apiRepository(w, r, id, strings.TrimPrefix(p, "repositories/"))
	default:
		srv.jsonError(w, r, http.StatusNotFound, "no such endpoint")
	}
}

func (srv *API) onlyGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET")
	srv.jsonError(w, r, http.StatusMethodNotAllowed, "use GET")
	return false
}

// apiSearch: GET /api/v1/search?q=&badge=&sort=&page=&page_size=&min_stars=
func (srv *API) apiSearch(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if !srv.onlyGet(w, r) {
		return
	}
	id = id.Narrow("registry", "catalog", "search")
	q := r.URL.Query()
	badge := q.Get("badge")
	if badge != "" {
		if err := meta.ValidateBadge(badge); err != nil {
			srv.jsonError(w, r, http.StatusBadRequest, err.Error())
			return
		}
	}
	sort := q.Get("sort")
	switch sort {
	case "", "relevance", "stars", "pulls", "updated", "name":
	default:
		srv.jsonError(w, r, http.StatusBadRequest, "sort must be relevance, stars, pulls, updated or name")
		return
	}
	if sort == "relevance" {
		sort = ""
	}
	size := atoiRange(q.Get("page_size"), 25, 1, 100)
	page := atoiRange(q.Get("page"), 1, 1, 1<<20)
	minStars, _ := strconv.ParseInt(q.Get("min_stars"), 10, 64)
	res := srv.search(id, search.Query{Text: q.Get("q"), Badge: badge, Sort: sort, MinStars: minStars, Offset: (page - 1) * size, Limit: size})
	out := struct {
		Query    string     `json:"query"`
		Total    int        `json:"total"`
		Page     int        `json:"page"`
		PageSize int        `json:"page_size"`
		Results  []RepoJSON `json:"results"`
	}{q.Get("q"), res.Total, page, size, []RepoJSON{}}
	for _, e := range res.Entries {
		if rep, ok := srv.meta.Lookup(e.Repo); ok {
			out.Results = append(out.Results, repoJSON(rep, false))
		}
	}
	writeJSON(w, r, http.StatusOK, out)
}

// apiUser: GET /api/v1/user, who the credentials belong to.
func (srv *API) apiUser(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if !srv.onlyGet(w, r) {
		return
	}
	if id.User == "" {
		srv.jsonError(w, r, http.StatusUnauthorized, "log in to see your account")
		return
	}
	starred, err := srv.meta.StarredBy(r.Context(), id.User)
	if err != nil {
		srv.jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
		return
	}
	for i, s := range starred {
		starred[i] = names.Display(s)
	}
	orgs := id.Orgs
	if orgs == nil {
		orgs = []string{}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"name": id.User, "admin": id.Admin, "orgs": orgs, "starred": starred})
}

// apiNamespace: GET /api/v1/namespaces/NAME, a user's or organisation's
// repositories (or library's, the official images).
func (srv *API) apiNamespace(w http.ResponseWriter, r *http.Request, id access.Identity, ns string) {
	if !srv.onlyGet(w, r) {
		return
	}
	id = id.Narrow("registry", "catalog", "search")
	ctx := r.Context()
	kind := ""
	members := []string{}
	switch {
	case ns == image.OfficialNamespace:
		kind = "official"
	default:
		if _, err := srv.meta.User(ctx, ns); err == nil {
			kind = "user"
		} else if ok, _ := srv.meta.IsOrg(ctx, ns); ok {
			kind = "organization"
			if id.User != "" && (id.Admin || srv.access.CanWrite(id, ns+"/x")) {
				members, _ = srv.meta.Members(ctx, ns)
			}
		}
	}
	repos := []RepoJSON{}
	for _, rep := range srv.meta.InNamespace(ns) {
		if rep.Private && !srv.access.CanWrite(id, rep.Name) {
			continue
		}
		repos = append(repos, repoJSON(rep, false))
	}
	if kind == "" && len(repos) == 0 {
		srv.jsonError(w, r, http.StatusNotFound, "no namespace "+ns)
		return
	}
	out := map[string]any{"name": ns, "kind": kind, "repositories": repos}
	if kind == "organization" {
		out["members"] = members
	}
	writeJSON(w, r, http.StatusOK, out)
}

// apiRepository: /api/v1/repositories/NAME[/tags[/TAG]|/star]
func (srv *API) apiRepository(w http.ResponseWriter, r *http.Request, id access.Identity, rest string) {
	name, sub := rest, ""
	if i := strings.Index(rest, "/tags"); i > 0 && (len(rest) == i+5 || rest[i+5] == '/') {
		name, sub = rest[:i], rest[i+1:]
	} else if n, ok := strings.CutSuffix(rest, "/star"); ok {
		name, sub = n, "star"
	}
	if !names.Valid(name) {
		srv.jsonError(w, r, http.StatusBadRequest, "invalid repository name "+strconv.Quote(name))
		return
	}
	repo := names.Canonical(name)
	if r.Method == http.MethodPatch {
		id = id.Narrow("repository", repo, "push")
	} else {
		id = id.Narrow("repository", repo, "pull")
	}
	rep, ok := srv.meta.Lookup(repo)
	if !ok || !srv.access.CanPull(id, repo) {
		srv.jsonError(w, r, http.StatusNotFound, "no repository "+name)
		return
	}
	switch {
	case sub == "":
		srv.apiRepo(w, r, id, rep)
	case sub == "star":
		srv.apiStar(w, r, id, rep)
	case sub == "tags":
		if srv.onlyGet(w, r) {
			srv.apiTags(w, r, rep, "")
		}
	case strings.HasPrefix(sub, "tags/") && strings.Count(sub, "/") == 2:
		if srv.onlyGet(w, r) {
			srv.apiAnalysis(w, r, rep, strings.TrimPrefix(sub, "tags/"))
		}
	case strings.HasPrefix(sub, "tags/"):
		if srv.onlyGet(w, r) {
			srv.apiTags(w, r, rep, strings.TrimPrefix(sub, "tags/"))
		}
	default:
		srv.jsonError(w, r, http.StatusNotFound, "no such endpoint")
	}
}

// RepoPatch is what PATCH /api/v1/repositories/NAME may change.
type RepoPatch struct {
	Description     *string `json:"description"`
	FullDescription *string `json:"full_description"`
	Private         *bool   `json:"is_private"`
	Badge           *string `json:"badge"` // admins only
}

func (srv *API) apiRepo(w http.ResponseWriter, r *http.Request, id access.Identity, rep meta.Repo) {
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPatch:
		if id.User == "" {
			srv.jsonError(w, r, http.StatusUnauthorized, "log in to change a repository")
			return
		}
		if !srv.access.CanWrite(id, rep.Name) {
			srv.jsonError(w, r, http.StatusForbidden, "only the repository's owners may change it")
			return
		}
		var p RepoPatch
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&p); err != nil {
			srv.jsonError(w, r, http.StatusBadRequest, "invalid JSON: "+err.Error())
			return
		}
		if p.Badge != nil && !id.Admin {
			srv.jsonError(w, r, http.StatusForbidden, "only operators set badges")
			return
		}
		if p.Badge != nil {
			if err := meta.ValidateBadge(*p.Badge); err != nil {
				srv.jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
				return
			}
		}
		var err error
		rep, err = srv.meta.UpdateRepo(ctx, rep.Name, meta.RepoUpdate{Description: p.Description, FullDescription: p.FullDescription, Private: p.Private, Badge: p.Badge})
		if err != nil {
			srv.jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, PATCH")
		srv.jsonError(w, r, http.StatusMethodNotAllowed, "use GET or PATCH")
		return
	}
	j := repoJSON(rep, true)
	if id.User != "" {
		s, err := srv.meta.Starred(ctx, id.User, rep.Name)
		if err == nil {
			j.Starred = &s
		}
	}
	writeJSON(w, r, http.StatusOK, j)
}

// apiStar: PUT stars, DELETE unstars; both answer the repository.
func (srv *API) apiStar(w http.ResponseWriter, r *http.Request, id access.Identity, rep meta.Repo) {
	ctx := r.Context()
	var err error
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		if id.User == "" {
			srv.jsonError(w, r, http.StatusUnauthorized, "log in to star a repository")
			return
		}
		err = srv.meta.Star(ctx, id.User, rep.Name)
	case http.MethodDelete:
		if id.User == "" {
			srv.jsonError(w, r, http.StatusUnauthorized, "log in to unstar a repository")
			return
		}
		err = srv.meta.Unstar(ctx, id.User, rep.Name)
	default:
		w.Header().Set("Allow", "PUT, DELETE")
		srv.jsonError(w, r, http.StatusMethodNotAllowed, "use PUT to star, DELETE to unstar")
		return
	}
	if err != nil {
		srv.jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
		return
	}
	rep, _ = srv.meta.Lookup(rep.Name)
	j := repoJSON(rep, false)
	starred := r.Method != http.MethodDelete
	j.Starred = &starred
	writeJSON(w, r, http.StatusOK, j)
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSON(w, r, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(b, '\n'))
	}
}
