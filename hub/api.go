package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/hub/search"
	"github.com/berth-dev/berth/image"
)

// The hub JSON API for people and web pages, documented in docs/hub-api.md.

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

func jsonError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="berth hub"`)
	}
	writeJSON(w, r, status, map[string]string{"error": msg})
}

func (h *Hub) serveAPI(w http.ResponseWriter, r *http.Request) {
	id, err := h.access.Identify(r)
	if err != nil {
		jsonError(w, r, access.RefusalStatus(w, err), err.Error())
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/api/v1/")
	switch {
	case p == "search":
		h.apiSearch(w, r, id)
	case p == "user":
		h.apiUser(w, r, id)
	case strings.HasPrefix(p, "namespaces/"):
		h.apiNamespace(w, r, id, strings.TrimPrefix(p, "namespaces/"))
	case strings.HasPrefix(p, "repositories/"):
		h.apiRepository(w, r, id, strings.TrimPrefix(p, "repositories/"))
	default:
		jsonError(w, r, http.StatusNotFound, "no such endpoint")
	}
}

func onlyGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET")
	jsonError(w, r, http.StatusMethodNotAllowed, "use GET")
	return false
}

// apiSearch: GET /api/v1/search?q=&badge=&sort=&page=&page_size=&min_stars=
func (h *Hub) apiSearch(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if !onlyGet(w, r) {
		return
	}
	id = id.Narrow("registry", "catalog", "search")
	q := r.URL.Query()
	badge := q.Get("badge")
	if badge != "" {
		if err := ValidateBadge(badge); err != nil {
			jsonError(w, r, http.StatusBadRequest, err.Error())
			return
		}
	}
	sort := q.Get("sort")
	switch sort {
	case "", "relevance", "stars", "pulls", "updated", "name":
	default:
		jsonError(w, r, http.StatusBadRequest, "sort must be relevance, stars, pulls, updated or name")
		return
	}
	if sort == "relevance" {
		sort = ""
	}
	size := atoiRange(q.Get("page_size"), 25, 1, 100)
	page := atoiRange(q.Get("page"), 1, 1, 1<<20)
	minStars, _ := strconv.ParseInt(q.Get("min_stars"), 10, 64)
	res := h.search(id, search.Query{Text: q.Get("q"), Badge: badge, Sort: sort, MinStars: minStars, Offset: (page - 1) * size, Limit: size})
	out := struct {
		Query    string     `json:"query"`
		Total    int        `json:"total"`
		Page     int        `json:"page"`
		PageSize int        `json:"page_size"`
		Results  []RepoJSON `json:"results"`
	}{q.Get("q"), res.Total, page, size, []RepoJSON{}}
	for _, e := range res.Entries {
		if rep, ok := h.meta.Lookup(e.Repo); ok {
			out.Results = append(out.Results, repoJSON(rep, false))
		}
	}
	writeJSON(w, r, http.StatusOK, out)
}

// apiUser: GET /api/v1/user, who the credentials belong to.
func (h *Hub) apiUser(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if !onlyGet(w, r) {
		return
	}
	if id.User == "" {
		jsonError(w, r, http.StatusUnauthorized, "log in to see your account")
		return
	}
	starred, err := h.meta.StarredBy(r.Context(), id.User)
	if err != nil {
		jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
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
func (h *Hub) apiNamespace(w http.ResponseWriter, r *http.Request, id access.Identity, ns string) {
	if !onlyGet(w, r) {
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
		if _, err := h.meta.User(ctx, ns); err == nil {
			kind = "user"
		} else if ok, _ := h.meta.IsOrg(ctx, ns); ok {
			kind = "organization"
			if id.User != "" && (id.Admin || h.access.CanWrite(id, ns+"/x")) {
				members, _ = h.meta.Members(ctx, ns)
			}
		}
	}
	repos := []RepoJSON{}
	for _, rep := range h.meta.InNamespace(ns) {
		if rep.Private && !h.access.CanWrite(id, rep.Name) {
			continue
		}
		repos = append(repos, repoJSON(rep, false))
	}
	if kind == "" && len(repos) == 0 {
		jsonError(w, r, http.StatusNotFound, "no namespace "+ns)
		return
	}
	out := map[string]any{"name": ns, "kind": kind, "repositories": repos}
	if kind == "organization" {
		out["members"] = members
	}
	writeJSON(w, r, http.StatusOK, out)
}

// apiRepository: /api/v1/repositories/NAME[/tags[/TAG]|/star]
func (h *Hub) apiRepository(w http.ResponseWriter, r *http.Request, id access.Identity, rest string) {
	name, sub := rest, ""
	if i := strings.Index(rest, "/tags"); i > 0 && (len(rest) == i+5 || rest[i+5] == '/') {
		name, sub = rest[:i], rest[i+1:]
	} else if n, ok := strings.CutSuffix(rest, "/star"); ok {
		name, sub = n, "star"
	}
	if !names.Valid(name) {
		jsonError(w, r, http.StatusBadRequest, "invalid repository name "+strconv.Quote(name))
		return
	}
	repo := names.Canonical(name)
	if r.Method == http.MethodPatch {
		id = id.Narrow("repository", repo, "push")
	} else {
		id = id.Narrow("repository", repo, "pull")
	}
	rep, ok := h.meta.Lookup(repo)
	if !ok || !h.access.CanPull(id, repo) {
		jsonError(w, r, http.StatusNotFound, "no repository "+name)
		return
	}
	switch {
	case sub == "":
		h.apiRepo(w, r, id, rep)
	case sub == "star":
		h.apiStar(w, r, id, rep)
	case sub == "tags":
		if onlyGet(w, r) {
			h.apiTags(w, r, rep, "")
		}
	case strings.HasPrefix(sub, "tags/") && strings.Count(sub, "/") == 2:
		if onlyGet(w, r) {
			h.apiAnalysis(w, r, rep, strings.TrimPrefix(sub, "tags/"))
		}
	case strings.HasPrefix(sub, "tags/"):
		if onlyGet(w, r) {
			h.apiTags(w, r, rep, strings.TrimPrefix(sub, "tags/"))
		}
	default:
		jsonError(w, r, http.StatusNotFound, "no such endpoint")
	}
}

// RepoPatch is what PATCH /api/v1/repositories/NAME may change.
type RepoPatch struct {
	Description     *string `json:"description"`
	FullDescription *string `json:"full_description"`
	Private         *bool   `json:"is_private"`
	Badge           *string `json:"badge"` // admins only
}

func (h *Hub) apiRepo(w http.ResponseWriter, r *http.Request, id access.Identity, rep meta.Repo) {
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPatch:
		if id.User == "" {
			jsonError(w, r, http.StatusUnauthorized, "log in to change a repository")
			return
		}
		if !h.access.CanWrite(id, rep.Name) {
			jsonError(w, r, http.StatusForbidden, "only the repository's owners may change it")
			return
		}
		var p RepoPatch
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&p); err != nil {
			jsonError(w, r, http.StatusBadRequest, "invalid JSON: "+err.Error())
			return
		}
		if p.Badge != nil && !id.Admin {
			jsonError(w, r, http.StatusForbidden, "only operators set badges")
			return
		}
		var err error
		rep, err = h.UpdateRepo(ctx, rep.Name, meta.RepoUpdate{Description: p.Description, FullDescription: p.FullDescription, Private: p.Private, Badge: p.Badge})
		if err != nil {
			jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, PATCH")
		jsonError(w, r, http.StatusMethodNotAllowed, "use GET or PATCH")
		return
	}
	j := repoJSON(rep, true)
	if id.User != "" {
		s, err := h.meta.Starred(ctx, id.User, rep.Name)
		if err == nil {
			j.Starred = &s
		}
	}
	writeJSON(w, r, http.StatusOK, j)
}

// apiStar: PUT stars, DELETE unstars; both answer the repository.
func (h *Hub) apiStar(w http.ResponseWriter, r *http.Request, id access.Identity, rep meta.Repo) {
	ctx := r.Context()
	var err error
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		if id.User == "" {
			jsonError(w, r, http.StatusUnauthorized, "log in to star a repository")
			return
		}
		err = h.meta.Star(ctx, id.User, rep.Name)
	case http.MethodDelete:
		if id.User == "" {
			jsonError(w, r, http.StatusUnauthorized, "log in to unstar a repository")
			return
		}
		err = h.meta.Unstar(ctx, id.User, rep.Name)
	default:
		w.Header().Set("Allow", "PUT, DELETE")
		jsonError(w, r, http.StatusMethodNotAllowed, "use PUT to star, DELETE to unstar")
		return
	}
	if err != nil {
		jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
		return
	}
	rep, _ = h.meta.Lookup(rep.Name)
	j := repoJSON(rep, false)
	starred := r.Method != http.MethodDelete
	j.Starred = &starred
	writeJSON(w, r, http.StatusOK, j)
}

// TagJSON is a tag with what its image is made of.
type TagJSON struct {
	Name      string         `json:"name"`
	Digest    digest.Digest  `json:"digest"`
	MediaType string         `json:"media_type"`
	Size      int64          `json:"size"`
	Updated   time.Time      `json:"last_updated"`
	Images    []PlatformJSON `json:"images"`
}

// PlatformJSON is one platform's image of a tag.
type PlatformJSON struct {
	Digest       digest.Digest `json:"digest"`
	OS           string        `json:"os"`
	Architecture string        `json:"architecture"`
	Variant      string        `json:"variant,omitempty"`
	Size         int64         `json:"size"`
	Created      *time.Time    `json:"created,omitempty"`
	Layers       []LayerJSON   `json:"layers"`
}

// LayerJSON is one history step, with its layer if it made one.
type LayerJSON struct {
	CreatedBy string        `json:"created_by"`
	Created   *time.Time    `json:"created,omitempty"`
	Digest    digest.Digest `json:"digest,omitempty"`
	Size      int64         `json:"size"`
	Empty     bool          `json:"empty_layer,omitempty"`
}

func (h *Hub) apiTags(w http.ResponseWriter, r *http.Request, rep meta.Repo, only string) {
	ctx := r.Context()
	var tags []meta.Tag
	if only != "" {
		t, err := h.meta.Tag(ctx, rep.Name, only)
		if err != nil {
			jsonError(w, r, errdefs.HTTPStatus(err), "no tag "+only)
			return
		}
		tags = []meta.Tag{t}
	} else {
		var err error
		if tags, err = h.meta.Tags(ctx, rep.Name, "", 1000); err != nil {
			jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
			return
		}
	}
	out := make([]TagJSON, 0, len(tags))
	for _, t := range tags {
		tj, err := h.describeTag(ctx, rep.Name, t)
		if err != nil {
			h.log.Warn("describing a tag", "repository", rep.Name, "tag", t.Name, "err", err)
			continue
		}
		out = append(out, tj)
	}
	if only != "" {
		if len(out) == 0 {
			jsonError(w, r, http.StatusInternalServerError, "tag "+only+" cannot be read")
			return
		}
		writeJSON(w, r, http.StatusOK, out[0])
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"name": names.Display(rep.Name), "tags": out})
}

func (h *Hub) describeTag(ctx context.Context, repo string, t meta.Tag) (TagJSON, error) {
	m, err := h.meta.Manifest(ctx, repo, t.Digest)
	if err != nil {
		return TagJSON{}, err
	}
	tj := TagJSON{Name: t.Name, Digest: t.Digest, MediaType: m.MediaType, Size: m.Size, Updated: t.Updated, Images: []PlatformJSON{}}
	body, err := h.blobs.ReadAll(ctx, t.Digest)
	if err != nil {
		return TagJSON{}, err
	}
	p, err := image.ParseManifest(m.MediaType, body)
	if err != nil {
		return TagJSON{}, err
	}
	if p.Index != nil {
		for i, d := range p.Index.Manifests {
			if i >= 32 || !image.IsManifest(d.MediaType) {
				continue
			}
			b, err := h.blobs.ReadAll(ctx, d.Digest)
			if err != nil {
				continue
			}
			cp, err := image.ParseManifest(d.MediaType, b)
			if err != nil || cp.Manifest == nil {
				continue
			}
			if pj, err := h.describeImage(ctx, d.Digest, cp.Manifest); err == nil {
				tj.Images = append(tj.Images, pj)
				tj.Size += pj.Size
			}
		}
		return tj, nil
	}
	pj, err := h.describeImage(ctx, t.Digest, p.Manifest)
	if err != nil {
		return TagJSON{}, err
	}
	tj.Images = append(tj.Images, pj)
	tj.Size = pj.Size
	return tj, nil
}

// describeImage reads an image's config for platform and history; the
// size is the compressed bytes a pull downloads.
func (h *Hub) describeImage(ctx context.Context, d digest.Digest, m *ocispec.Manifest) (PlatformJSON, error) {
	pj := PlatformJSON{Digest: d, Size: m.Config.Size, Layers: []LayerJSON{}}
	for _, l := range m.Layers {
		pj.Size += l.Size
	}
	if !image.IsConfig(m.Config.MediaType) {
		for _, l := range m.Layers {
			pj.Layers = append(pj.Layers, LayerJSON{Digest: l.Digest, Size: l.Size})
		}
		return pj, nil
	}
	b, err := h.blobs.ReadAll(ctx, m.Config.Digest)
	if err != nil {
		return pj, err
	}
	cfg, err := image.ParseConfig(b)
	if err != nil {
		return pj, err
	}
	pj.OS, pj.Architecture, pj.Variant, pj.Created = cfg.OS, cfg.Architecture, cfg.Variant, cfg.Created
	for i, li := range cfg.LayerHistory() {
		hs := cfg.History[i]
		lj := LayerJSON{CreatedBy: hs.CreatedBy, Created: hs.Created, Empty: li < 0}
		if li >= 0 && li < len(m.Layers) {
			lj.Digest, lj.Size = m.Layers[li].Digest, m.Layers[li].Size
		}
		pj.Layers = append(pj.Layers, lj)
	}
	if len(cfg.History) == 0 {
		for _, l := range m.Layers {
			pj.Layers = append(pj.Layers, LayerJSON{Digest: l.Digest, Size: l.Size})
		}
	}
	return pj, nil
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		jsonError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(b, '\n'))
	}
}
