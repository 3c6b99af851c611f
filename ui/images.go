package ui

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/report"
)

// imageRow is one line of the Images table: a tag, or an untagged image.
type imageRow struct {
	ID      string `json:"id"`
	ShortID string `json:"short_id"`
	Repo    string `json:"repository"` // "<none>" when untagged
	Tag     string `json:"tag"`
	// Ref is what to act on: repo:tag, or the ID for an untagged image.
	Ref        string      `json:"ref"`
	Created    time.Time   `json:"created"`
	Size       int64       `json:"size"`
	Containers []usingCtnr `json:"containers"`
}

// usingCtnr is a container that keeps an image in use.
type usingCtnr struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Running bool   `json:"running"`
}

// usage maps image IDs to the containers using them; without a usable
// container runtime (no runc, not root) it is empty.
func (s *Server) usage(ctx context.Context) map[string][]usingCtnr {
	out := map[string][]usingCtnr{}
	list, err := s.e.Containers(ctx)
	if err != nil {
		s.log.Debug("no containers for the images table", "err", err)
		return out
	}
	for _, c := range list {
		out[c.ImageID] = append(out[c.ImageID], usingCtnr{ID: c.ID, Name: c.Name, Running: c.State.Running})
	}
	return out
}

// listImages lists every image by tag, or those the filter query values
// select (as images --filter).
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	imgs, err := s.e.ListImages(ctx, engine.ImageListOptions{All: true, Filters: r.URL.Query()["filter"]})
	if err != nil {
		apiError(w, err)
		return
	}
	used := s.usage(ctx)
	rows := []imageRow{}
	for _, im := range imgs {
		base := imageRow{ID: im.ID.String(), ShortID: image.ShortID(im.ID), Created: im.Created, Size: im.Size, Containers: used[im.ID.String()]}
		if base.Containers == nil {
			base.Containers = []usingCtnr{}
		}
		if len(im.RepoTags) == 0 {
			row := base
			row.Repo, row.Tag, row.Ref = "<none>", "<none>", im.ID.String()
			rows = append(rows, row)
		}
		tags := slices.Clone(im.RepoTags)
		sort.Strings(tags)
		for _, t := range tags {
			row := base
			i := strings.LastIndex(t, ":")
			row.Repo, row.Tag, row.Ref = t[:i], t[i+1:], t
			rows = append(rows, row)
		}
	}
	writeJSON(w, http.StatusOK, rows)
}

// removeImage is rmi without force: Docker's rules, Docker's words. A
// refusal because of containers lists them, for the In use link.
func (s *Server) removeImage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		apiError(w, errdefs.Newf(errdefs.ErrInvalid, "ref is missing"))
		return
	}
	res, resErr := s.e.Resolve(ctx, ref)
	items, err := s.e.Remove(ctx, ref, false)
	if err != nil {
		body := map[string]any{"error": err.Error()}
		if errors.Is(err, errdefs.ErrConflict) && resErr == nil {
			ctrs := s.usage(ctx)[res.ID.String()]
			if ctrs == nil {
				ctrs = []usingCtnr{}
			}
			body["image_id"] = res.ID.String()
			body["containers"] = ctrs
		}
		writeJSON(w, statusOf(err), body)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": items})
}

// imageDetail is what the details page shows above the analysis.
type imageDetail struct {
	ID           string            `json:"id"`
	Ref          string            `json:"ref"`
	Tags         []string          `json:"tags"`
	Created      string            `json:"created"`
	Size         int64             `json:"size"`
	Platform     string            `json:"platform"`
	Cmd          []string          `json:"cmd"`
	Entrypoint   []string          `json:"entrypoint"`
	Env          []string          `json:"env"`
	WorkingDir   string            `json:"working_dir"`
	ExposedPorts []string          `json:"exposed_ports"`
	Volumes      []string          `json:"volumes"`
	Layers       []layerRow        `json:"layers"`
	Containers   []usingCtnr       `json:"containers"`
	Labels       map[string]string `json:"labels"`
}

// layerRow is one step of the image's history, oldest first.
type layerRow struct {
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created,omitzero"`
	Size      int64     `json:"size"`
	Comment   string    `json:"comment,omitempty"`
}

func (s *Server) imageDetails(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.URL.Query().Get("ref")
	in, err := s.e.InspectImage(ctx, ref)
	if err != nil {
		apiError(w, err)
		return
	}
	hist, err := s.e.History(ctx, ref)
	if err != nil {
		apiError(w, err)
		return
	}
	d := imageDetail{
		ID: in.ID, Ref: ref, Tags: in.RepoTags, Created: in.Created, Size: in.Size,
		Platform: in.Os + "/" + in.Architecture, Layers: []layerRow{}, Containers: s.usage(ctx)[in.ID],
		Env: []string{}, Cmd: []string{}, Entrypoint: []string{}, ExposedPorts: []string{}, Volumes: []string{},
	}
	if in.Variant != "" {
		d.Platform += "/" + in.Variant
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if d.Containers == nil {
		d.Containers = []usingCtnr{}
	}
	if c := in.Config; c != nil {
		d.Cmd, d.Entrypoint, d.WorkingDir, d.Labels = nonNil(c.Cmd), nonNil(c.Entrypoint), c.WorkingDir, c.Labels
		d.Env = nonNil(c.Env)
		for p := range c.ExposedPorts {
			d.ExposedPorts = append(d.ExposedPorts, p)
		}
		for v := range c.Volumes {
			d.Volumes = append(d.Volumes, v)
		}
		sort.Strings(d.ExposedPorts)
		sort.Strings(d.Volumes)
	}
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		d.Layers = append(d.Layers, layerRow{CreatedBy: h.CreatedBy, Created: h.Created, Size: h.Size, Comment: h.Comment})
	}
	writeJSON(w, http.StatusOK, d)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// packageRow is one package or library of the image.
type packageRow struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Type    string `json:"type"`
	Path    string `json:"path"`
	Layer   int    `json:"layer"`
}

// findingRow is one known vulnerability.
type findingRow struct {
	ID        string   `json:"id"`
	Severity  string   `json:"severity"`
	Package   string   `json:"package"`
	Installed string   `json:"installed"`
	FixedIn   []string `json:"fixed_in"`
	Summary   string   `json:"summary"`
}

// imageAnalysis streams the inventory and then the vulnerabilities as
// server-sent events: "progress" {done,total} while layers are read,
// "packages", then "vulnerabilities" (with "database":"none" and a message
// when there is no database to match against), or "error".
func (s *Server) imageAnalysis(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.URL.Query().Get("ref")
	ev := newEvents(w)
	progress := func(done, total int) { ev.send("progress", map[string]int{"done": done, "total": total}) }
	inv, err := s.e.Inventory(ctx, ref, progress)
	if err != nil {
		ev.send("error", map[string]string{"error": err.Error()})
		return
	}
	pkgs := []packageRow{}
	distro := ""
	if inv.SBOM.Distro != nil {
		d := inv.SBOM.Distro
		distro = strings.TrimSpace(cmp.Or(d.PrettyName, d.ID+" "+d.VersionID))
	}
	for _, p := range inv.SBOM.Packages {
		pkgs = append(pkgs, packageRow{Name: p.Name, Version: p.Version, Type: string(p.Type), Path: p.Path, Layer: p.Layer.Index})
	}
	ev.send("packages", map[string]any{"distro": distro, "packages": pkgs})

	res, err := s.e.MatchInventory(ctx, inv)
	if errors.Is(err, engine.ErrNoVulnDB) {
		ev.send("vulnerabilities", map[string]any{
			"database": "none",
			"message":  "No vulnerability database yet: run berth vuln db import FILE or berth vuln db update, then open this page again.",
		})
		return
	}
	if err != nil {
		ev.send("error", map[string]string{"error": err.Error()})
		return
	}
	counts := report.Count(res.Findings)
	byName := map[string]int{}
	for sev := vuln.Unknown; sev <= vuln.Critical; sev++ {
		byName[strings.ToLower(sev.String())] = counts.By[sev]
	}
	fs := []findingRow{}
	sorted := slices.Clone(res.Findings)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Severity > sorted[j].Severity })
	for _, f := range sorted {
		fs = append(fs, findingRow{ID: f.ID, Severity: f.Severity.String(), Package: f.Package.Name, Installed: f.Installed, FixedIn: nonNil(f.FixedIn), Summary: f.Summary})
	}
	updated := ""
	if res.DB != nil && !res.DB.Updated.IsZero() {
		updated = res.DB.Updated.UTC().Format(time.RFC3339)
	}
	ev.send("vulnerabilities", map[string]any{"database": "osv", "updated": updated, "total": counts.Total, "packages": counts.Packages, "counts": byName, "findings": fs})
}
