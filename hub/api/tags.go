package api

import (
	"context"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/image"
)

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

func (srv *API) apiTags(w http.ResponseWriter, r *http.Request, rep meta.Repo, only string) {
	ctx := r.Context()
	var tags []meta.Tag
	if only != "" {
		t, err := srv.meta.Tag(ctx, rep.Name, only)
		if err != nil {
			srv.jsonError(w, r, errdefs.HTTPStatus(err), "no tag "+only)
			return
		}
		tags = []meta.Tag{t}
	} else {
		var err error
		if tags, err = srv.meta.Tags(ctx, rep.Name, "", 1000); err != nil {
			srv.jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
			return
		}
	}
	out := make([]TagJSON, 0, len(tags))
	for _, t := range tags {
		tj, err := srv.describeTag(ctx, rep.Name, t)
		if err != nil {
			srv.log.Warn("describing a tag", "repository", rep.Name, "tag", t.Name, "err", err)
			continue
		}
		out = append(out, tj)
	}
	if only != "" {
		if len(out) == 0 {
			srv.jsonError(w, r, http.StatusInternalServerError, "tag "+only+" cannot be read")
			return
		}
		writeJSON(w, r, http.StatusOK, out[0])
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"name": names.Display(rep.Name), "tags": out})
}

func (srv *API) describeTag(ctx context.Context, repo string, t meta.Tag) (TagJSON, error) {
	m, err := srv.meta.Manifest(ctx, repo, t.Digest)
	if err != nil {
		return TagJSON{}, err
	}
	tj := TagJSON{Name: t.Name, Digest: t.Digest, MediaType: m.MediaType, Size: m.Size, Updated: t.Updated, Images: []PlatformJSON{}}
	body, err := srv.blobs.ReadAll(ctx, t.Digest)
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
			b, err := srv.blobs.ReadAll(ctx, d.Digest)
			if err != nil {
				continue
			}
			cp, err := image.ParseManifest(d.MediaType, b)
			if err != nil || cp.Manifest == nil {
				continue
			}
			if pj, err := srv.describeImage(ctx, d.Digest, cp.Manifest); err == nil {
				tj.Images = append(tj.Images, pj)
				tj.Size += pj.Size
			}
		}
		return tj, nil
	}
	pj, err := srv.describeImage(ctx, t.Digest, p.Manifest)
	if err != nil {
		return TagJSON{}, err
	}
	tj.Images = append(tj.Images, pj)
	tj.Size = pj.Size
	return tj, nil
}

// describeImage reads an image's config for platform and history; the
// size is the compressed bytes a pull downloads.
func (srv *API) describeImage(ctx context.Context, d digest.Digest, m *ocispec.Manifest) (PlatformJSON, error) {
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
	b, err := srv.blobs.ReadAll(ctx, m.Config.Digest)
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
