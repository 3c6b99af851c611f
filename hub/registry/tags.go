package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/errcode"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/image"
)

func pageParams(r *http.Request) (n int, last string, err error) {
	q := r.URL.Query()
	n = -1
	if s := q.Get("n"); s != "" {
		if n, err = strconv.Atoi(s); err != nil || n < 0 {
			return 0, "", fmt.Errorf("n must be a number of at least 0")
		}
	}
	return n, q.Get("last"), nil
}

func (reg *Registry) serveTags(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET")
		return
	}
	if !reg.access.Authorize(w, r, rt.name, "pull") {
		return
	}
	n, last, err := pageParams(r)
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.PaginationNumberInvalid, err.Error()))
		return
	}
	repo := names.Canonical(rt.name)
	if _, ok := reg.meta.Lookup(repo); !ok {
		errcode.Write(w, r, errcode.New(errcode.NameUnknown, "repository "+rt.name+" is not known"))
		return
	}
	tags := []string{}
	if n != 0 {
		limit := n
		if n > 0 {
			limit = n + 1
		}
		list, err := reg.meta.Tags(r.Context(), repo, last, limit)
		if err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutRepo))
			return
		}
		for _, t := range list {
			tags = append(tags, t.Name)
		}
	}
	if n > 0 && len(tags) > n {
		tags = tags[:n]
		v := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[n-1]}}
		w.Header().Set("Link", `</v2/`+rt.name+`/tags/list?`+v.Encode()+`>; rel="next"`)
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"name": rt.name, "tags": tags})
}

func (reg *Registry) serveCatalog(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, "GET")
		return
	}
	id, err := reg.access.Identify(r)
	if access.RefuseThrottled(w, r, err) {
		return
	}
	if err != nil {
		reg.access.Challenge(w, r, "", nil, "invalid_token", err.Error())
		return
	}
	id = id.Narrow("registry", "catalog", "*")
	n, last, err := pageParams(r)
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.PaginationNumberInvalid, err.Error()))
		return
	}
	if n < 0 || n > 1000 {
		n = 1000
	}
	repos := []string{}
	for n > 0 && len(repos) < n+1 {
		names, err := reg.meta.ListRepos(r.Context(), last, n+1)
		if err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutRepo))
			return
		}
		for _, name := range names {
			if reg.access.CanPull(id, name) {
				repos = append(repos, name)
			}
			last = name
		}
		if len(names) < n+1 {
			break
		}
	}
	if len(repos) > n {
		repos = repos[:n]
		v := url.Values{"n": {strconv.Itoa(n)}, "last": {repos[n-1]}}
		w.Header().Set("Link", `</v2/_catalog?`+v.Encode()+`>; rel="next"`)
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"repositories": repos})
}

func (reg *Registry) serveReferrers(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, "GET")
		return
	}
	if !reg.access.Authorize(w, r, rt.name, "pull") {
		return
	}
	d, err := image.ParseDigest(rt.ref)
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.DigestInvalid, err.Error()))
		return
	}
	list, err := reg.meta.Referrers(r.Context(), names.Canonical(rt.name), d)
	if err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutManifest))
		return
	}
	at := r.URL.Query().Get("artifactType")
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	for _, m := range list {
		if at != "" && m.ArtifactType != at {
			continue
		}
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{
			MediaType: m.MediaType, Digest: m.Digest, Size: m.Size,
			ArtifactType: m.ArtifactType, Annotations: m.Annotations,
		})
	}
	if at != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	b, _ := json.Marshal(idx)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.Unknown, err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(b, '\n'))
	}
}

var zeroTime time.Time
