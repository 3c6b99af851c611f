package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/errcode"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/image"
)

func (reg *Registry) uploadLocation(name, id string) string {
	return "/v2/" + name + "/blobs/uploads/" + id
}

func (reg *Registry) serveUpload(w http.ResponseWriter, r *http.Request, rt route) {
	if rt.ref == "" {
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, "POST")
			return
		}
		reg.startUpload(w, r, rt)
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
	if !reg.access.Authorize(w, r, rt.name, need...) {
		return
	}
	repo := names.Canonical(rt.name)
	u, err := reg.blobs.Resume(r.Context(), rt.ref)
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
		reg.uploadStatus(w, rt.name, rt.ref, u.Info().Size, http.StatusNoContent)
	case http.MethodDelete:
		if err := u.Cancel(r.Context()); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutUpload))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		if !reg.appendChunk(w, r, rt, u) {
			return
		}
		reg.uploadStatus(w, rt.name, rt.ref, u.Info().Size, http.StatusAccepted)
	case http.MethodPut:
		d, err := image.ParseDigest(r.URL.Query().Get("digest"))
		if err != nil {
			errcode.Write(w, r, errcode.New(errcode.DigestInvalid, "the digest parameter is missing or invalid: "+err.Error()))
			return
		}
		if r.ContentLength != 0 && !reg.appendChunk(w, r, rt, u) {
			return
		}
		if _, err := u.Commit(r.Context(), d); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutUpload))
			return
		}
		reg.blobCreated(w, r, rt.name, d)
	}
}

// appendChunk adds a PATCH or PUT body to an upload, checking Content-Range
// against what the upload holds.
func (reg *Registry) appendChunk(w http.ResponseWriter, r *http.Request, rt route, u blobs.Upload) bool {
	size := u.Info().Size
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, ok := parseContentRange(cr)
		if !ok || start != size || (r.ContentLength >= 0 && end-start+1 != r.ContentLength) {
			reg.uploadStatus(w, rt.name, rt.ref, size, 0)
			errcode.Write(w, r, errcode.New(errcode.RangeInvalid, fmt.Sprintf("Content-Range %q does not continue the upload at %d", cr, size)))
			return false
		}
	}
	n, err := u.Append(r.Context(), reg.uploadBody(w, r))
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
func (reg *Registry) uploadBody(w http.ResponseWriter, r *http.Request) io.Reader {
	return idleReader{rc: http.NewResponseController(w), r: r.Body, idle: reg.cfg.UploadIdleTimeout}
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
func (reg *Registry) uploadStatus(w http.ResponseWriter, name, id string, size int64, status int) {
	end := size - 1
	if end < 0 {
		end = 0
	}
	hdr := w.Header()
	hdr.Set("Location", reg.uploadLocation(name, id))
	hdr.Set("Range", "0-"+strconv.FormatInt(end, 10))
	hdr.Set("Docker-Upload-UUID", id)
	if status != 0 {
		hdr.Set("Content-Length", "0")
		w.WriteHeader(status)
	}
}

func (reg *Registry) startUpload(w http.ResponseWriter, r *http.Request, rt route) {
	if !reg.access.Authorize(w, r, rt.name, "pull", "push") {
		return
	}
	ctx := r.Context()
	repo := names.Canonical(rt.name)
	q := r.URL.Query()
	if m := q.Get("mount"); m != "" {
		if d, err := image.ParseDigest(m); err == nil && reg.mount(r, repo, d, q.Get("from")) {
			hdr := w.Header()
			hdr.Set("Location", "/v2/"+rt.name+"/blobs/"+d.String())
			hdr.Set("Docker-Content-Digest", d.String())
			hdr.Set("Content-Length", "0")
			w.WriteHeader(http.StatusCreated)
			return
		}
		// Anything else starts a normal upload, as the spec allows.
	}
	u, err := reg.blobs.NewUpload(ctx, repo)
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
		if _, err := u.Append(ctx, reg.uploadBody(w, r)); err != nil {
			_ = u.Cancel(ctx)
			errcode.Write(w, r, errcode.New(errcode.BlobUploadInvalid, err.Error()))
			return
		}
		if _, err := u.Commit(ctx, d); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutUpload))
			return
		}
		reg.blobCreated(w, r, rt.name, d)
		return
	}
	reg.uploadStatus(w, rt.name, u.Info().ID, 0, http.StatusAccepted)
}

// mount links a blob from another repository the caller may pull.
func (reg *Registry) mount(r *http.Request, repo string, d digest.Digest, from string) bool {
	if from == "" && reg.cfg.Open {
		// Without a source, any repository holding the blob will do; on an
		// open hub everyone may pull every repository.
		if ok, err := reg.meta.BlobLinked(r.Context(), d); err != nil || !ok {
			return false
		}
		return reg.linkBlob(r.Context(), repo, d) == nil
	}
	if from == "" || !names.Valid(from) || !reg.access.Allowed(r, from, "pull") {
		return false
	}
	if !reg.meta.HasLink(r.Context(), names.Canonical(from), d) {
		return false
	}
	return reg.linkBlob(r.Context(), repo, d) == nil
}

// linkBlob lets repo serve a stored blob. It holds the blob's lock so the
// collector cannot delete the blob between the check and the link.
func (reg *Registry) linkBlob(ctx context.Context, repo string, d digest.Digest) error {
	defer reg.locks.lock(d)()
	if _, err := reg.blobs.Stat(ctx, d); err != nil {
		return err
	}
	reg.touched.touch(d)
	return reg.meta.LinkBlob(ctx, repo, d)
}

// blobCreated answers 201 for a blob now in the repository.
func (reg *Registry) blobCreated(w http.ResponseWriter, r *http.Request, name string, d digest.Digest) {
	if err := reg.linkBlob(r.Context(), names.Canonical(name), d); err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutBlob))
		return
	}
	hdr := w.Header()
	hdr.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	hdr.Set("Docker-Content-Digest", d.String())
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}
