package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// maxListPages bounds a paginated listing, against a registry that loops.
const maxListPages = 10000

var linkNext = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`)

// Tags lists the repository's tags, following the registry's pagination
// (the Link header).
func (r *Repository) Tags(ctx context.Context) ([]string, error) {
	u, err := r.url(ctx, "/v2/"+r.Path+"/tags/list", url.Values{"n": {"1000"}})
	if err != nil {
		return nil, err
	}
	var tags []string
	for page := 0; u != "" && page < maxListPages; page++ {
		resp, err := r.send(ctx, request{method: http.MethodGet, url: u})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, readError(resp, http.MethodGet, resp.Request.URL)
		}
		var body struct {
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %v: %w", r.Name(), err, errdefs.ErrInvalid)
		}
		tags = append(tags, body.Tags...)
		u = ""
		if m := linkNext.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
			next, err := resp.Request.URL.Parse(m[1])
			if err != nil || next.Host != resp.Request.URL.Host {
				return nil, fmt.Errorf("tags of %s: registry gave a bad next page %q: %w", r.Name(), m[1], errdefs.ErrInvalid)
			}
			u = next.String()
		}
	}
	return tags, nil
}

// Referrers lists the manifests whose subject is d (OCI referrers API),
// only those of artifactType when it is not "". A registry without the
// API is asked for the fallback tag "<alg>-<hex>", as the spec says.
func (r *Repository) Referrers(ctx context.Context, d digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	var q url.Values
	if artifactType != "" {
		q = url.Values{"artifactType": {artifactType}}
	}
	u, err := r.url(ctx, "/v2/"+r.Path+"/referrers/"+d.String(), q)
	if err != nil {
		return nil, err
	}
	resp, err := r.send(ctx, request{method: http.MethodGet, url: u, header: http.Header{"Accept": {ocispec.MediaTypeImageIndex}}})
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	filtered := false
	switch resp.StatusCode {
	case http.StatusOK:
		err = json.NewDecoder(io.LimitReader(resp.Body, image.MaxManifestSize)).Decode(&idx)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("referrers of %s: %v: %w", d, err, errdefs.ErrInvalid)
		}
		filtered = strings.Contains(resp.Header.Get("OCI-Filters-Applied"), "artifactType")
	case http.StatusNotFound:
		drain(resp)
		m, err := r.Manifest(ctx, strings.Replace(d.String(), ":", "-", 1))
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		p, err := m.Parse()
		if err != nil {
			return nil, err
		}
		if p.Index == nil {
			return nil, fmt.Errorf("referrers tag of %s is not an index: %w", d, errdefs.ErrInvalid)
		}
		idx = *p.Index
	default:
		return nil, readError(resp, http.MethodGet, resp.Request.URL)
	}
	out := make([]ocispec.Descriptor, 0, len(idx.Manifests))
	for _, m := range idx.Manifests {
		if artifactType == "" || filtered || m.ArtifactType == artifactType {
			out = append(out, m)
		}
	}
	return out, nil
}
