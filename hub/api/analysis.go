package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/analysis"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/vuln"
)

// Analysis states the API adds to meta's: pending (not analysed yet) and
// disabled (the hub runs without analysis).
const (
	analysisPending  = "pending"
	analysisDisabled = "disabled"
)

// AnalysisJSON says which image of a tag an analysis is about and how it went.
type AnalysisJSON struct {
	Name       string        `json:"name"`
	Repository string        `json:"repository"`
	Tag        string        `json:"tag"`
	Digest     digest.Digest `json:"digest"`
	Platform   string        `json:"platform,omitempty"`
	Status     string        `json:"status"`
	Error      string        `json:"error,omitempty"`
	Analysed   *time.Time    `json:"analysed_at,omitempty"`
}

// SBOMJSON is GET .../tags/TAG/sbom.
type SBOMJSON struct {
	AnalysisJSON
	Distro   *sbom.Distro    `json:"distro,omitempty"`
	Layers   []digest.Digest `json:"layers,omitempty"`
	Packages []sbom.Package  `json:"packages"`
	Warnings []sbom.Warning  `json:"warnings,omitempty"`
}

// VulnerabilitiesJSON is GET .../tags/TAG/vulnerabilities.
type VulnerabilitiesJSON struct {
	AnalysisJSON
	analysis.VulnSummary
}

// apiAnalysis: GET /api/v1/repositories/NAME/tags/TAG/sbom and
// .../vulnerabilities, with ?platform=os/arch[/variant] for an index (default
// linux/amd64, else its first image). Who may pull the repository may read them.
func (srv *API) apiAnalysis(w http.ResponseWriter, r *http.Request, rep meta.Repo, rest string) {
	ctx := r.Context()
	tag, kind, _ := strings.Cut(rest, "/")
	if kind != "sbom" && kind != "vulnerabilities" {
		srv.jsonError(w, r, http.StatusNotFound, "no such endpoint")
		return
	}
	t, err := srv.meta.Tag(ctx, rep.Name, tag)
	if err != nil {
		srv.jsonError(w, r, errdefs.HTTPStatus(err), "no tag "+tag)
		return
	}
	m, err := srv.meta.Manifest(ctx, rep.Name, t.Digest)
	if err != nil {
		srv.jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
		return
	}
	head := AnalysisJSON{Name: names.Display(rep.Name), Repository: rep.Name, Tag: tag, Digest: m.Digest, Status: analysisPending}
	if image.IsIndex(m.MediaType) {
		d, platform, err := srv.indexImage(r, m)
		if err != nil {
			srv.jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
			return
		}
		m = meta.Manifest{Repo: rep.Name, Digest: d, MediaType: m.MediaType}
		head.Digest, head.Platform = d, platform
		if cm, err := srv.meta.Manifest(ctx, rep.Name, d); err == nil {
			m = cm
		}
	}
	an, err := srv.meta.Analysis(ctx, m.Digest)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		if srv.analysis.Enabled() {
			srv.analysis.Enqueue(m) // a manifest this hub has not seen pushed
		} else {
			head.Status = analysisDisabled
		}
	case err != nil:
		srv.jsonError(w, r, errdefs.HTTPStatus(err), err.Error())
		return
	default:
		if kind == "vulnerabilities" {
			an = srv.analysis.Fresh(ctx, an)
		}
		head.Status, head.Error = an.Status, an.Error
		if !an.Analysed.IsZero() {
			at := an.Analysed.UTC()
			head.Analysed = &at
		}
	}
	done := head.Status == meta.AnalysisDone
	if kind == "sbom" {
		out := SBOMJSON{AnalysisJSON: head, Packages: []sbom.Package{}}
		if done {
			var s sbom.SBOM
			if err := json.Unmarshal(an.Inventory, &s); err != nil {
				srv.jsonError(w, r, http.StatusInternalServerError, "stored inventory of "+m.Digest.String()+": "+err.Error())
				return
			}
			out.Distro, out.Layers, out.Warnings = s.Distro, s.Layers, s.Warnings
			if s.Packages != nil {
				out.Packages = s.Packages
			}
		}
		writeJSON(w, r, http.StatusOK, out)
		return
	}
	out := VulnerabilitiesJSON{AnalysisJSON: head, VulnSummary: analysis.Summarise([]vuln.Finding{})}
	out.Database = ""
	if done {
		if err := json.Unmarshal(an.Vulnerabilities, &out.VulnSummary); err != nil {
			srv.jsonError(w, r, http.StatusInternalServerError, "stored vulnerabilities of "+m.Digest.String()+": "+err.Error())
			return
		}
		if out.Findings == nil {
			out.Findings = []vuln.Finding{}
		}
	}
	writeJSON(w, r, http.StatusOK, out)
}

// indexImage picks the image of an index the request asks for.
func (srv *API) indexImage(r *http.Request, m meta.Manifest) (digest.Digest, string, error) {
	body, err := srv.blobs.ReadAll(r.Context(), m.Digest)
	if err != nil {
		return "", "", err
	}
	p, err := image.ParseManifest(m.MediaType, body)
	if err != nil {
		return "", "", err
	}
	if p.Index == nil {
		return "", "", errors.New("not an index")
	}
	asked := r.URL.Query().Get("platform")
	want := "linux/amd64"
	if asked != "" {
		want = asked
	}
	pl, err := image.ParsePlatform(want)
	if err != nil {
		return "", "", err
	}
	if d, err := image.SelectManifest(p.Index, pl); err == nil {
		return d.Digest, image.FormatPlatform(*d.Platform), nil
	} else if asked != "" {
		return "", "", err
	}
	for _, d := range p.Index.Manifests {
		if image.IsManifest(d.MediaType) && (d.Platform == nil || d.Platform.OS != "unknown") {
			platform := ""
			if d.Platform != nil {
				platform = image.FormatPlatform(*d.Platform)
			}
			return d.Digest, platform, nil
		}
	}
	return "", "", errdefs.Newf(errdefs.ErrNotFound, "index %s holds no image", m.Digest)
}
