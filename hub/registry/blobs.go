package registry

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/hub/cache"
	"github.com/berth-dev/berth/hub/errcode"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/image"
)

func (reg *Registry) serveBlob(w http.ResponseWriter, r *http.Request, rt route) {
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
		if !reg.access.Authorize(w, r, rt.name, "delete") {
			return
		}
		if err := reg.meta.UnlinkBlob(r.Context(), repo, d); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutBlob))
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !reg.access.Authorize(w, r, rt.name, "pull") {
		return
	}
	if !reg.meta.HasLink(r.Context(), repo, d) {
		errcode.Write(w, r, errcode.New(errcode.BlobUnknown, "blob "+d.String()+" is not in "+rt.name))
		return
	}
	if r.Method == http.MethodHead {
		reg.touched.touch(d)
	}
	hdr := w.Header()
	hdr["Docker-Content-Digest"] = []string{d.String()}
	hdr["Etag"] = []string{`"` + d.String() + `"`}
	hdr["Content-Type"] = []string{"application/octet-stream"}
	hdr["Cache-Control"] = []string{"max-age=31536000"}
	if b, ok := reg.blobs.Cached(d); ok {
		serveBytes(w, r, b)
		return
	}
	f, err := reg.blobs.Open(r.Context(), d)
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
		reg.blobs.Keep(d, b)
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
