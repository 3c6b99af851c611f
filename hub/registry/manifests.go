package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/cache"
	"github.com/berth-dev/berth/hub/errcode"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/image"
)

func (reg *Registry) serveManifest(w http.ResponseWriter, r *http.Request, rt route) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		reg.getManifest(w, r, rt)
	case http.MethodPut:
		reg.putManifest(w, r, rt)
	case http.MethodDelete:
		reg.deleteManifest(w, r, rt)
	default:
		methodNotAllowed(w, r, "GET, HEAD, PUT, DELETE")
	}
}

// isDigestRef tells a digest reference from a tag: tags have no colon.
func isDigestRef(ref string) bool { return strings.Contains(ref, ":") }

func (reg *Registry) getManifest(w http.ResponseWriter, r *http.Request, rt route) {
	if !reg.access.Authorize(w, r, rt.name, "pull") {
		return
	}
	repo := names.Canonical(rt.name)
	m, gen := reg.meta.CachedManifest(repo, rt.ref)
	if m == nil {
		var err error
		if m, err = reg.loadManifest(r.Context(), repo, rt.ref); err != nil {
			errcode.Write(w, r, errcode.From(err, errcode.AboutManifest))
			return
		}
		reg.meta.KeepManifest(repo, rt.ref, gen, m)
	}
	hdr := w.Header()
	hdr["Content-Type"] = []string{m.MediaType}
	hdr["Content-Length"] = []string{m.Length}
	hdr["Docker-Content-Digest"] = []string{m.Digest.String()}
	hdr["Etag"] = []string{`"` + m.Digest.String() + `"`}
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, m.Digest.String()) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodGet {
		reg.pulls.add(repo)
		_, _ = w.Write(m.Body)
	}
}

// loadManifest reads a manifest by tag or digest from the stores.
func (reg *Registry) loadManifest(ctx context.Context, repo, ref string) (*cache.Manifest, error) {
	var d digest.Digest
	if isDigestRef(ref) {
		var err error
		if d, err = image.ParseDigest(ref); err != nil {
			return nil, errcode.New(errcode.ManifestUnknown, err.Error())
		}
	} else {
		if err := image.ValidateTag(ref); err != nil {
			return nil, errcode.New(errcode.ManifestUnknown, err.Error())
		}
		t, err := reg.meta.Tag(ctx, repo, ref)
		if err != nil {
			return nil, err
		}
		d = t.Digest
	}
	m, err := reg.meta.Manifest(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	body, err := reg.blobs.ReadAll(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d, err)
	}
	return cache.NewManifest(d, m.MediaType, body), nil
}

func (reg *Registry) putManifest(w http.ResponseWriter, r *http.Request, rt route) {
	if !reg.access.Authorize(w, r, rt.name, "pull", "push") {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, image.MaxManifestSize+1))
	if err != nil {
		errcode.Write(w, r, errcode.New(errcode.ManifestInvalid, err.Error()))
		return
	}
	if len(body) > image.MaxManifestSize {
		errcode.Write(w, r, errcode.New(errcode.ManifestTooBig, fmt.Sprintf("a manifest may have at most %d bytes", image.MaxManifestSize)))
		return
	}
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	tags := r.URL.Query()["tag"]
	var d digest.Digest
	if isDigestRef(rt.ref) {
		want, err := image.ParseDigest(rt.ref)
		if err != nil {
			errcode.Write(w, r, errcode.New(errcode.DigestInvalid, err.Error()))
			return
		}
		if d = want.Algorithm().FromBytes(body); d != want {
			errcode.Write(w, r, errcode.New(errcode.DigestInvalid, fmt.Sprintf("the manifest hashes to %s, not %s", d, want)))
			return
		}
	} else {
		d = digest.FromBytes(body)
		tags = append(tags, rt.ref)
	}
	for _, t := range tags {
		if err := image.ValidateTag(t); err != nil {
			errcode.Write(w, r, errcode.New(errcode.ManifestInvalid, err.Error()))
			return
		}
	}
	m, err := reg.PutManifest(r.Context(), names.Canonical(rt.name), d, ct, body, tags...)
	if err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutManifest))
		return
	}
	hdr := w.Header()
	hdr.Set("Location", "/v2/"+rt.name+"/manifests/"+d.String())
	hdr.Set("Docker-Content-Digest", d.String())
	if m.Subject != "" {
		hdr.Set("OCI-Subject", m.Subject.String())
	}
	if len(tags) > 0 && isDigestRef(rt.ref) {
		hdr["OCI-Tag"] = tags
	}
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// PutManifest stores a manifest in repo (a canonical name) after checking
// that what it names is there, and points the tags at it. It is what a
// manifest PUT does, and what seeding and tests use to put images in.
func (reg *Registry) PutManifest(ctx context.Context, repo string, d digest.Digest, mediaType string, body []byte, tags ...string) (meta.Manifest, error) {
	p, err := image.ParseManifest(mediaType, body)
	if err != nil {
		return meta.Manifest{}, err
	}
	m := meta.Manifest{Repo: repo, Digest: d, MediaType: p.MediaType, Size: int64(len(body))}
	if s := p.Subject(); s != nil {
		m.Subject = s.Digest
	}
	if p.Manifest != nil {
		m.ArtifactType, m.Annotations = p.Manifest.ArtifactType, p.Manifest.Annotations
		if m.ArtifactType == "" {
			m.ArtifactType = p.Manifest.Config.MediaType
		}
	} else {
		m.ArtifactType, m.Annotations = p.Index.ArtifactType, p.Index.Annotations
	}
	// Hold the children's locks so the collector cannot remove one between
	// this check and the manifest being recorded.
	children := p.Children()
	ds := make([]digest.Digest, 0, len(children))
	for _, c := range children {
		if !slices.Contains(ds, c.Digest) {
			ds = append(ds, c.Digest)
		}
	}
	slices.Sort(ds)
	for _, c := range ds {
		defer reg.locks.lock(c)()
	}
	for _, c := range children {
		if p.Index == nil && foreignLayer(c) {
			continue
		}
		if err := reg.checkChild(ctx, repo, c, p.Index != nil); err != nil {
			return meta.Manifest{}, err
		}
		m.Children = append(m.Children, c.Digest)
	}
	if _, err := reg.blobs.Put(ctx, d, strings.NewReader(string(body))); err != nil {
		return meta.Manifest{}, err
	}
	if err := reg.meta.PutManifest(ctx, m, tags...); err != nil {
		return meta.Manifest{}, err
	}
	reg.cfg.OnManifest(m)
	return m, nil
}

// foreignLayer reports layers that are not pushed by design: OCI
// non-distributable layers and Docker foreign layers.
func foreignLayer(d ocispec.Descriptor) bool {
	return strings.HasPrefix(d.MediaType, "application/vnd.oci.image.layer.nondistributable.") ||
		d.MediaType == image.MediaTypeDockerForeignLayer
}

// checkChild fails with MANIFEST_BLOB_UNKNOWN unless the repository holds
// the child: a manifest for an index, a linked and stored blob otherwise.
func (reg *Registry) checkChild(ctx context.Context, repo string, c ocispec.Descriptor, inIndex bool) error {
	unknown := func() error {
		e := errcode.New(errcode.ManifestBlobUnknown, "manifest references "+c.Digest.String()+", which is not in the repository")
		e.Detail = map[string]string{"digest": c.Digest.String()}
		return e
	}
	if inIndex {
		if _, err := reg.meta.Manifest(ctx, repo, c.Digest); err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				return unknown()
			}
			return err
		}
		return nil
	}
	if !reg.meta.HasLink(ctx, repo, c.Digest) {
		return unknown()
	}
	info, err := reg.blobs.Stat(ctx, c.Digest)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return unknown()
		}
		return err
	}
	if c.Size != info.Size {
		return errcode.New(errcode.ManifestInvalid, fmt.Sprintf("descriptor of %s says %d bytes, the blob has %d", c.Digest, c.Size, info.Size))
	}
	return nil
}

func (reg *Registry) deleteManifest(w http.ResponseWriter, r *http.Request, rt route) {
	if !reg.access.Authorize(w, r, rt.name, "delete") {
		return
	}
	ctx := r.Context()
	repo := names.Canonical(rt.name)
	var err error
	if isDigestRef(rt.ref) {
		d, perr := image.ParseDigest(rt.ref)
		if perr != nil {
			errcode.Write(w, r, errcode.New(errcode.DigestInvalid, perr.Error()))
			return
		}
		err = reg.meta.DeleteManifest(ctx, repo, d)
	} else {
		err = reg.meta.DeleteTag(ctx, repo, rt.ref)
	}
	if err != nil {
		errcode.Write(w, r, errcode.From(err, errcode.AboutManifest))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}
