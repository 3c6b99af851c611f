package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/retry"
)

// Repository is one repository on a registry, with the access the caller
// needs ("pull", or "pull" and "push"), which decides the token scopes.
type Repository struct {
	c       *Client
	Host    string // "localhost:5000"
	Path    string // "library/welcome"
	actions []string
}

// Repository returns a handle on host/path. actions default to "pull".
func (c *Client) Repository(host, path string, actions ...string) *Repository {
	if len(actions) == 0 {
		actions = []string{"pull"}
	}
	return &Repository{c: c, Host: host, Path: path, actions: actions}
}

// Name is host/path.
func (r *Repository) Name() string { return r.Host + "/" + r.Path }

// RetryPolicy is the policy the client retries with, for a caller that
// retries what the client cannot (a layer whose bytes were damaged).
func (r *Repository) RetryPolicy() retry.Policy { return r.c.opts.Retry }

func (r *Repository) scope() string {
	return "repository:" + r.Path + ":" + strings.Join(r.actions, ",")
}

// url builds an absolute URL for an API path ("/v2/<name>/...").
func (r *Repository) url(ctx context.Context, p string, q url.Values) (string, error) {
	h, err := r.c.host(ctx, r.Host)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: h.scheme, Host: r.Host, Path: p}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

func (r *Repository) send(ctx context.Context, req request) (*http.Response, error) {
	if req.scopes == nil {
		req.scopes = []string{r.scope()}
	}
	return r.c.send(ctx, r.Host, req)
}

// Manifest is a manifest or index as fetched, verified against its digest.
type Manifest struct {
	ocispec.Descriptor // digest, size and media type (as the registry declared it)
	Raw                []byte
}

// Parse parses the manifest with image.ParseManifest.
func (m Manifest) Parse() (image.Parsed, error) { return image.ParseManifest(m.MediaType, m.Raw) }

var acceptManifests = strings.Join(image.ManifestMediaTypes, ", ")

// Manifest fetches a manifest by tag or digest. By digest, the bytes must
// hash to it; by tag, they must hash to the Docker-Content-Digest the
// registry sends (when it sends one). At most image.MaxManifestSize bytes
// are read. A truncated or garbled transfer is tried again.
func (r *Repository) Manifest(ctx context.Context, reference string) (Manifest, error) {
	// The one level that retries a manifest: its GET is sent once each.
	var m Manifest
	err := retry.Do(ctx, r.c.opts.Retry, func(int) error {
		var err error
		m, err = r.manifest(ctx, reference)
		return err
	})
	return m, err
}

func (r *Repository) manifest(ctx context.Context, reference string) (Manifest, error) {
	var m Manifest
	var want digest.Digest
	if d, err := digest.Parse(reference); err == nil {
		if _, err := image.ParseDigest(d.String()); err != nil {
			return m, err
		}
		want = d
	}
	u, err := r.url(ctx, "/v2/"+r.Path+"/manifests/"+reference, nil)
	if err != nil {
		return m, err
	}
	resp, err := r.send(ctx, request{method: http.MethodGet, url: u, header: http.Header{"Accept": {acceptManifests}}, once: true})
	if err != nil {
		return m, err
	}
	if resp.StatusCode != http.StatusOK {
		return m, readError(resp, http.MethodGet, resp.Request.URL)
	}
	defer resp.Body.Close()
	if resp.ContentLength > image.MaxManifestSize {
		return m, fmt.Errorf("manifest %s is %d bytes, more than the %d allowed: %w", reference, resp.ContentLength, image.MaxManifestSize, errdefs.ErrInvalid)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, image.MaxManifestSize+1))
	if err != nil {
		return m, &NetworkError{Op: "GET " + redact(resp.Request.URL), Err: err, Temporary: true}
	}
	if len(raw) > image.MaxManifestSize {
		return m, fmt.Errorf("manifest %s is more than the %d bytes allowed: %w", reference, image.MaxManifestSize, errdefs.ErrInvalid)
	}
	if resp.ContentLength >= 0 && int64(len(raw)) != resp.ContentLength {
		return m, &NetworkError{Op: "GET " + redact(resp.Request.URL), Err: io.ErrUnexpectedEOF, Temporary: true}
	}
	if hdr := resp.Header.Get("Docker-Content-Digest"); hdr != "" {
		sent, err := image.ParseDigest(hdr)
		if err != nil {
			return m, fmt.Errorf("registry sent an invalid Docker-Content-Digest %q: %w", hdr, errdefs.ErrInvalid)
		}
		if want == "" {
			want = sent
		} else if sent != want {
			return m, fmt.Errorf("manifest %s: registry says its digest is %s: %w", reference, sent, errdefs.ErrDigestMismatch)
		}
	}
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	got := alg.FromBytes(raw)
	if want != "" && got != want {
		return m, fmt.Errorf("manifest %s hashed to %s, want %s: %w", reference, got, want, errdefs.ErrDigestMismatch)
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	m.Descriptor = ocispec.Descriptor{MediaType: strings.TrimSpace(mt), Digest: got, Size: int64(len(raw))}
	m.Raw = raw
	if !image.IsIndex(m.MediaType) && !image.IsManifest(m.MediaType) {
		// application/json and friends: the body says what it is.
		if p, err := image.ParseManifest("", raw); err == nil {
			m.MediaType = p.MediaType
		}
	}
	return m, nil
}

// HeadManifest asks for a manifest's descriptor without its body; the
// digest is the registry's Docker-Content-Digest.
func (r *Repository) HeadManifest(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	u, err := r.url(ctx, "/v2/"+r.Path+"/manifests/"+reference, nil)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	resp, err := r.send(ctx, request{method: http.MethodHead, url: u, header: http.Header{"Accept": {acceptManifests}}})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return ocispec.Descriptor{}, &Error{Status: resp.StatusCode, Method: http.MethodHead, URL: redact(resp.Request.URL)}
	}
	d, err := image.ParseDigest(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: the registry sent no usable digest: %w", reference, err)
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return ocispec.Descriptor{MediaType: strings.TrimSpace(mt), Digest: d, Size: resp.ContentLength}, nil
}

// PutManifest stores raw as reference (a tag, or its digest) and returns
// its digest, checked against what the registry reports.
func (r *Repository) PutManifest(ctx context.Context, reference, mediaType string, raw []byte) (digest.Digest, error) {
	d := digest.FromBytes(raw)
	if reference == "" {
		reference = d.String()
	}
	u, err := r.url(ctx, "/v2/"+r.Path+"/manifests/"+reference, nil)
	if err != nil {
		return "", err
	}
	resp, err := r.send(ctx, request{method: http.MethodPut, url: u, body: raw, header: http.Header{"Content-Type": {mediaType}}, watch: true})
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return "", readError(resp, http.MethodPut, resp.Request.URL)
	}
	drain(resp)
	if hdr := resp.Header.Get("Docker-Content-Digest"); hdr != "" && hdr != d.String() {
		return "", fmt.Errorf("registry stored manifest %s as %s: %w", d, hdr, errdefs.ErrDigestMismatch)
	}
	return d, nil
}

// Resolved is what a reference leads to for one platform.
type Resolved struct {
	// Indexes are the indexes followed, the one the reference names first;
	// none for a single-platform image.
	Indexes []Manifest
	// Manifest is the platform's image manifest, Image its parsed form.
	Manifest Manifest
	Image    *ocispec.Manifest
}

// Resolve fetches what reference (a tag or digest) names and follows
// indexes to the image manifest for platform.
func (r *Repository) Resolve(ctx context.Context, reference string, platform ocispec.Platform) (Resolved, error) {
	top, err := r.Manifest(ctx, reference)
	if err != nil {
		return Resolved{}, err
	}
	return r.SelectPlatform(ctx, top, platform)
}

// SelectPlatform follows indexes from m (with image.SelectManifest) to the
// image manifest for platform, checking each child against the size its
// index gives.
func (r *Repository) SelectPlatform(ctx context.Context, m Manifest, platform ocispec.Platform) (Resolved, error) {
	var res Resolved
	for depth := 0; ; depth++ {
		p, err := m.Parse()
		if err != nil {
			return res, fmt.Errorf("manifest %s: %w", m.Digest, err)
		}
		m.MediaType = p.MediaType
		if p.Manifest != nil {
			res.Manifest, res.Image = m, p.Manifest
			return res, nil
		}
		if depth >= 4 {
			return res, fmt.Errorf("indexes nested too deep: %w", errdefs.ErrInvalid)
		}
		res.Indexes = append(res.Indexes, m)
		child, err := image.SelectManifest(p.Index, platform)
		if err != nil {
			return res, err
		}
		next, err := r.Manifest(ctx, child.Digest.String())
		if err != nil {
			return res, err
		}
		if next.Size != child.Size {
			return res, fmt.Errorf("manifest %s is %d bytes, its index says %d: %w", child.Digest, next.Size, child.Size, errdefs.ErrDigestMismatch)
		}
		if child.MediaType != "" {
			next.MediaType = child.MediaType
		}
		m = next
	}
}
