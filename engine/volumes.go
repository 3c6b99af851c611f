package engine

import (
	"context"
	"path"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// Volumes lists the volumes.
func (e *Engine) Volumes(ctx context.Context) ([]*Volume, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, err
	}
	return m.Volumes().List()
}

// Volume finds a volume by name, with Docker's message when there is none.
func (e *Engine) Volume(ctx context.Context, name string) (*Volume, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, err
	}
	v, err := m.Volumes().Get(name)
	if errdefs.IsNotFound(err) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "get %s: no such volume", name)
	}
	return v, err
}

// CreateVolume makes a named volume (or, with an empty name, an anonymous
// one); an existing one is returned as it is.
func (e *Engine) CreateVolume(ctx context.Context, name string, labels map[string]string) (*Volume, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, err
	}
	return m.CreateVolume(ctx, name, labels)
}

// RemoveVolume removes a volume no container uses; force makes a missing
// volume no error, as with Docker.
func (e *Engine) RemoveVolume(ctx context.Context, name string, force bool) error {
	m, err := e.runtime(ctx)
	if err != nil {
		return err
	}
	return m.RemoveVolume(ctx, name, force)
}

// PruneVolumes removes the volumes no container uses (anonymous ones only
// unless all) and returns their names and the space freed.
func (e *Engine) PruneVolumes(ctx context.Context, all bool) ([]string, int64, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, 0, err
	}
	return m.PruneVolumes(ctx, all)
}

// VolumeSummary is a volume as `volume ls` shows it: with the number of
// containers (running or not) that use it.
type VolumeSummary struct {
	*Volume
	Containers int
}

// ListVolumes lists the volumes matching the filters (dangling, name,
// label, driver; every one must match), as `volume ls` shows them.
func (e *Engine) ListVolumes(ctx context.Context, filters []string) ([]VolumeSummary, error) {
	f, err := volumeFilterSpec.parse(filters)
	if err != nil {
		return nil, err
	}
	for _, v := range f["dangling"] {
		if _, ok := boolValue(v); !ok {
			return nil, volumeFilterSpec.badValue("dangling", v)
		}
	}
	list, err := e.Containers(ctx)
	if err != nil {
		return nil, err
	}
	users := map[string]int{}
	for _, c := range list {
		for _, mp := range c.Mounts {
			if mp.Type == "volume" {
				users[mp.Name]++
			}
		}
	}
	vols, err := e.Volumes(ctx)
	if err != nil {
		return nil, err
	}
	var out []VolumeSummary
	for _, v := range vols {
		ok := allOf(f["dangling"], func(s string) bool { b, _ := boolValue(s); return (users[v.Name] == 0) == b }) &&
			allOf(f["name"], func(s string) bool { m, _ := path.Match(s, v.Name); return m || strings.Contains(v.Name, s) }) &&
			allOf(f["label"], func(s string) bool { return labelMatch(v.Labels, s) }) &&
			allOf(f["driver"], func(s string) bool { return v.Driver == s })
		if ok {
			out = append(out, VolumeSummary{Volume: v, Containers: users[v.Name]})
		}
	}
	return out, nil
}
