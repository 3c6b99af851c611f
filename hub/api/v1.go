package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/search"
)

// ServeV1 is Docker's v1 search, which `docker search HOST/TERM` calls:
// GET /v1/_ping, then GET /v1/search?q=TERM&n=25.
func (srv *API) ServeV1(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/v1/_ping":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Docker-Registry-Version", "0.6.0")
		w.Header().Set("X-Docker-Registry-Standalone", "true")
		_, _ = w.Write([]byte("true"))
	case "/v1/search":
		srv.serveV1Search(w, r)
	default:
		http.NotFound(w, r)
	}
}

type v1Result struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int64  `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	IsAutomated bool   `json:"is_automated"`
}

type v1Response struct {
	Query      string     `json:"query"`
	NumResults int        `json:"num_results"`
	NumPages   int        `json:"num_pages"`
	Page       int        `json:"page"`
	PageSize   int        `json:"page_size"`
	Results    []v1Result `json:"results"`
}

func (srv *API) serveV1Search(w http.ResponseWriter, r *http.Request) {
	id, err := srv.access.Identify(r)
	if err != nil {
		if status := access.RefusalStatus(w, err); status != http.StatusUnauthorized {
			writeJSON(w, r, status, map[string]string{"error": err.Error()})
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.cfg.Realm+`",service="`+srv.cfg.Service+`",scope="registry:catalog:search"`)
		writeJSON(w, r, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	}
	id = id.Narrow("registry", "catalog", "search")
	q := r.URL.Query()
	n := atoiRange(q.Get("n"), 25, 1, 100)
	page := atoiRange(q.Get("page"), 1, 1, 1<<20)
	// Docker sends "library/TERM" style names sometimes; search the term.
	text := strings.TrimPrefix(q.Get("q"), "library/")
	res := srv.search(id, search.Query{Text: text, Offset: (page - 1) * n, Limit: n})
	out := v1Response{Query: q.Get("q"), NumResults: res.Total, Page: page, PageSize: n, Results: []v1Result{}}
	out.NumPages = (res.Total + n - 1) / n
	for _, e := range res.Entries {
		out.Results = append(out.Results, v1Result{Name: e.Name, Description: e.Description, StarCount: e.Stars, IsOfficial: e.Official()})
	}
	writeJSON(w, r, http.StatusOK, out)
}

// search runs a query as id sees the hub: private repositories only where
// id may pull.
func (srv *API) search(id access.Identity, q search.Query) search.Result {
	q.Visible = func(e search.Entry) bool { return srv.access.CanWrite(id, e.Repo) }
	return srv.index.Search(q)
}

func atoiRange(s string, def, lo, hi int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return max(lo, min(hi, n))
}
