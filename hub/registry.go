package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/cache"
	"github.com/berth-dev/berth/hub/errcode"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/image"
)

// serveV2 is the OCI distribution API. It returns the route kind for metrics.
func (h *Hub) serveV2(w http.ResponseWriter, r *http.Request) string {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, ok := parseV2(r.URL.Path)
	if !ok {
		errcode.Write(w, r, errcode.New(errcode.NameUnknown, "no such endpoint"))
		return "v2-unknown"
	}
	if rt.kind != "ping" && rt.kind != "catalog" && !names.Valid(rt.name) {
		errcode.Write(w, r, errcode.New(errcode.NameInvalid, fmt.Sprintf("invalid repository name %q", rt.name)))
		return rt.kind
	}
	switch rt.kind {
	case "ping":
		h.servePing(w, r)
	case "catalog":
		h.serveCatalog(w, r)
	case "tags":
		h.serveTags(w, r, rt)
	case "manifest":
		h.serveManifest(w, r, rt)
	case "blob":
		h.serveBlob(w, r, rt)
	case "upload":
		h.serveUpload(w, r, rt)
	case "referrers":
		h.serveReferrers(w, r, rt)
	}
	return rt.kind
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	errcode.Write(w, r, errcode.New(errcode.Unsupported, r.Method+" is not supported here"))
}

func (h *Hub) servePing(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	if !h.cfg.Open {
		id, err := h.access.Identify(r)
		if access.RefuseThrottled(w, r, err) {
			return
		}
		if err != nil || (id.User == "" && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")) {
			msg := "authentication required"
			if err != nil {
				msg = err.Error()
			}
			h.access.Challenge(w, r, "", nil, "", msg)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "2")
	if r.Method == http.MethodGet {
		_, _ = io.WriteString(w, "{}")
	}
}

// --- blobs ---

func (h *Hub) serveBlob(w http.ResponseWriter, r *http.Request, rt route) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	default:
		methodNotAllowed(w, r, "GET, HEAD, DELETE")
		return
	}
	d, err := image.ParseDigest(rt.ref)
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.DigestInvalid, err.Error()))
		return
	}
	repo := names.Canonical(rt.name)
	if r.Method == http.MethodDelete {
		if !h.access.Authorize(w, r, rt.name, "delete") {
			return
		}
		if err := h.meta.UnlinkBlob(r.Context(), repo, d); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutBlob))
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !h.access.Authorize(w, r, rt.name, "pull") {
		return
	}
	if !h.meta.HasLink(r.Context(), repo, d) {
		errcode.Write(w, r, errcode.New(errcode.BlobUnknown, "blob "+d.String()+" is not in "+rt.name))
		return
	}
	if r.Method == http.MethodHead {
		h.touched.touch(d)
	}
	hdr := w.Header()
	hdr["Docker-Content-Digest"] = []string{d.String()}
	hdr["Etag"] = []string{`"` + d.String() + `"`}
	hdr["Content-Type"] = []string{"application/octet-stream"}
	hdr["Cache-Control"] = []string{"max-age=31536000"}
	if b, ok := h.blobs.Cached(d); ok {
		serveBytes(w, r, b)
		return
	}
	f, err := h.blobs.Open(r.Context(), d)
	if err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutBlob))
		return
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutBlob))
		return
	}
	if size <= cache.SmallBlob {
		b := make([]byte, size)
		if _, err := io.ReadFull(f, b); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutBlob))
			return
		}
		h.blobs.Keep(d, b)
		serveBytes(w, r, b)
		return
	}
	// ServeContent answers Range and If-None-Match; an *os.File goes out
	// with sendfile.
	http.ServeContent(w, r, "", zeroTime, f)
}

// serveBytes sends a cached blob, taking the short way when no range or
// condition is asked.
func serveBytes(w http.ResponseWriter, r *http.Request, b []byte) {
	if r.Header.Get("Range") != "" || r.Header.Get("If-None-Match") != "" {
		http.ServeContent(w, r, "", zeroTime, bytes.NewReader(b))
		return
	}
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.Header()["Accept-Ranges"] = []string{"bytes"}
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}

// --- uploads ---

func (h *Hub) uploadLocation(name, id string) string {
	return "/v2/" + name + "/blobs/uploads/" + id
}

func (h *Hub) serveUpload(w http.ResponseWriter, r *http.Request, rt route) {
	if rt.ref == "" {
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, "POST")
			return
		}
		h.startUpload(w, r, rt)
		return
	}
	var need []string
	switch r.Method {
	case http.MethodGet:
		need = []string{"pull"}
	case http.MethodPatch, http.MethodPut, http.MethodDelete:
		need = []string{"pull", "push"}
	default:
		methodNotAllowed(w, r, "GET, PATCH, PUT, DELETE")
		return
	}
	if !h.access.Authorize(w, r, rt.name, need...) {
		return
	}
	repo := names.Canonical(rt.name)
	u, err := h.blobs.Resume(r.Context(), rt.ref)
	if err == nil && u.Info().Owner != repo {
		u.Close()
		err = fmt.Errorf("upload %s: %w", rt.ref, errdefs.ErrNotFound)
	}
	if err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutUpload))
		return
	}
	defer u.Close()
	switch r.Method {
	case http.MethodGet:
		h.uploadStatus(w, rt.name, rt.ref, u.Info().Size, http.StatusNoContent)
	case http.MethodDelete:
		if err := u.Cancel(r.Context()); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutUpload))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		if !h.appendChunk(w, r, rt, u) {
			return
		}
		h.uploadStatus(w, rt.name, rt.ref, u.Info().Size, http.StatusAccepted)
	case http.MethodPut:
		d, err := image.ParseDigest(r.URL.Query().Get("digest"))
		if err != nil {
			errcode.Write(w, r, errcode.New(errcode.DigestInvalid, "the digest parameter is missing or invalid: "+err.Error()))
			return
		}
		if r.ContentLength != 0 && !h.appendChunk(w, r, rt, u) {
			return
		}
		if _, err := u.Commit(r.Context(), d); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutUpload))
			return
		}
		h.blobCreated(w, r, rt.name, d)
	}
}

// appendChunk adds a PATCH or PUT body to an upload, checking Content-Range
// against what the upload holds.
func (h *Hub) appendChunk(w http.ResponseWriter, r *http.Request, rt route, u blobs.Upload) bool {
	size := u.Info().Size
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, ok := parseContentRange(cr)
		if !ok || start != size || (r.ContentLength >= 0 && end-start+1 != r.ContentLength) {
			h.uploadStatus(w, rt.name, rt.ref, size, 0)
			errcode.Write(w, r, errcode.New(errcode.RangeInvalid, fmt.Sprintf("Content-Range %q does not continue the upload at %d", cr, size)))
			return false
		}
	}
	n, err := u.Append(r.Context(), h.uploadBody(w, r))
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.BlobUploadInvalid, err.Error()))
		return false
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		errcode.Write(w, r, errcode.New(errcode.SizeInvalid, fmt.Sprintf("received %d bytes, Content-Length said %d", n, r.ContentLength)))
		return false
	}
	return true
}

// uploadBody is r's body with an idle deadline renewed before every read,
// so a stalled upload fails (and frees its lock) after UploadIdleTimeout
// while a slow but moving one runs as long as it needs. The server sets its
// own deadline again for the connection's next request.
func (h *Hub) uploadBody(w http.ResponseWriter, r *http.Request) io.Reader {
	return idleReader{rc: http.NewResponseController(w), r: r.Body, idle: h.cfg.UploadIdleTimeout}
}

type idleReader struct {
	rc   *http.ResponseController
	r    io.Reader
	idle time.Duration
}

func (b idleReader) Read(p []byte) (int, error) {
	// An error means the connection cannot take deadlines (an in-process
	// test server's may not); the body is then read as it is.
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	return b.r.Read(p)
}

// parseContentRange parses "start-end", with or without a "bytes " prefix.
func parseContentRange(s string) (int64, int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes ")
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(strings.TrimSuffix(b, "/*"), 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// uploadStatus sets an upload's headers; status 0 sets them only.
func (h *Hub) uploadStatus(w http.ResponseWriter, name, id string, size int64, status int) {
	end := size - 1
	if end < 0 {
		end = 0
	}
	hdr := w.Header()
	hdr.Set("Location", h.uploadLocation(name, id))
	hdr.Set("Range", "0-"+strconv.FormatInt(end, 10))
	hdr.Set("Docker-Upload-UUID", id)
	if status != 0 {
		hdr.Set("Content-Length", "0")
		w.WriteHeader(status)
	}
}

func (h *Hub) startUpload(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.access.Authorize(w, r, rt.name, "pull", "push") {
		return
	}
	ctx := r.Context()
	repo := names.Canonical(rt.name)
	q := r.URL.Query()
	if m := q.Get("mount"); m != "" {
		if d, err := image.ParseDigest(m); err == nil && h.mount(r, repo, d, q.Get("from")) {
			hdr := w.Header()
			hdr.Set("Location", "/v2/"+rt.name+"/blobs/"+d.String())
			hdr.Set("Docker-Content-Digest", d.String())
			hdr.Set("Content-Length", "0")
			w.WriteHeader(http.StatusCreated)
			return
		}
		// Anything else starts a normal upload, as the spec allows.
	}
	u, err := h.blobs.NewUpload(ctx, repo)
	if err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutUpload))
		return
	}
	defer u.Close()
	if ds := q.Get("digest"); ds != "" {
		d, err := image.ParseDigest(ds)
		if err != nil {
			_ = u.Cancel(ctx)
			errcode.Write(w, r, errcode.New(errcode.DigestInvalid, err.Error()))
			return
		}
		if _, err := u.Append(ctx, h.uploadBody(w, r)); err != nil {
			_ = u.Cancel(ctx)
			errcode.Write(w, r, errcode.New(errcode.BlobUploadInvalid, err.Error()))
			return
		}
		if _, err := u.Commit(ctx, d); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutUpload))
			return
		}
		h.blobCreated(w, r, rt.name, d)
		return
	}
	h.uploadStatus(w, rt.name, u.Info().ID, 0, http.StatusAccepted)
}

// mount links a blob from another repository the caller may pull.
func (h *Hub) mount(r *http.Request, repo string, d digest.Digest, from string) bool {
	if from == "" && h.cfg.Open {
		// Without a source, any repository holding the blob will do; on an
		// open hub everyone may pull every repository.
		if ok, err := h.meta.BlobLinked(r.Context(), d); err != nil || !ok {
			return false
		}
		return h.linkBlob(r.Context(), repo, d) == nil
	}
	if from == "" || !names.Valid(from) || !h.access.Allowed(r, from, "pull") {
		return false
	}
	if !h.meta.HasLink(r.Context(), names.Canonical(from), d) {
		return false
	}
	return h.linkBlob(r.Context(), repo, d) == nil
}

// linkBlob lets repo serve a stored blob. It holds the blob's lock so the
// collector cannot delete the blob between the check and the link.
func (h *Hub) linkBlob(ctx context.Context, repo string, d digest.Digest) error {
	defer h.locks.lock(d)()
	if _, err := h.blobs.Stat(ctx, d); err != nil {
		return err
	}
	h.touched.touch(d)
	return h.meta.LinkBlob(ctx, repo, d)
}

// blobCreated answers 201 for a blob now in the repository.
func (h *Hub) blobCreated(w http.ResponseWriter, r *http.Request, name string, d digest.Digest) {
	if err := h.linkBlob(r.Context(), names.Canonical(name), d); err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutBlob))
		return
	}
	hdr := w.Header()
	hdr.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	hdr.Set("Docker-Content-Digest", d.String())
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// --- tags, catalog, referrers ---

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

func (h *Hub) serveTags(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET")
		return
	}
	if !h.access.Authorize(w, r, rt.name, "pull") {
		return
	}
	n, last, err := pageParams(r)
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.PaginationNumberInvalid, err.Error()))
		return
	}
	repo := names.Canonical(rt.name)
	if _, ok := h.meta.Lookup(repo); !ok {
		errcode.Write(w, r, errcode.New(errcode.NameUnknown, "repository "+rt.name+" is not known"))
		return
	}
	tags := []string{}
	if n != 0 {
		limit := n
		if n > 0 {
			limit = n + 1
		}
		list, err := h.meta.Tags(r.Context(), repo, last, limit)
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

func (h *Hub) serveCatalog(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, "GET")
		return
	}
	id, err := h.access.Identify(r)
	if access.RefuseThrottled(w, r, err) {
		return
	}
	if err != nil {
		h.access.Challenge(w, r, "", nil, "invalid_token", err.Error())
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
		names, err := h.meta.ListRepos(r.Context(), last, n+1)
		if err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutRepo))
			return
		}
		for _, name := range names {
			if h.access.CanPull(id, name) {
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

func (h *Hub) serveReferrers(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, "GET")
		return
	}
	if !h.access.Authorize(w, r, rt.name, "pull") {
		return
	}
	d, err := image.ParseDigest(rt.ref)
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.DigestInvalid, err.Error()))
		return
	}
	list, err := h.meta.Referrers(r.Context(), names.Canonical(rt.name), d)
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
