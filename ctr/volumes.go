package ctr

import (
	"context"

	"github.com/berth-dev/berth/ctr/volume"
	"github.com/berth-dev/berth/errdefs"
)

// VolumeUsers returns the IDs of the containers (running or not) that use
// the named volume.
func (m *Manager) VolumeUsers(ctx context.Context, name string) ([]string, error) {
	list, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range list {
		for _, mp := range c.Mounts {
			if mp.Type == "volume" && mp.Name == name {
				ids = append(ids, c.ID)
				break
			}
		}
	}
	return ids, nil
}

// RemoveVolume removes a volume no container uses. force only makes a
// missing volume no error, as with Docker.
func (m *Manager) RemoveVolume(ctx context.Context, name string, force bool) error {
	unlock, err := m.volumes.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := m.volumes.Get(name); err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	users, err := m.VolumeUsers(ctx, name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return errdefs.Newf(errdefs.ErrConflict, "remove %s: volume is in use - %v", name, users)
	}
	return m.volumes.Remove(name)
}

// PruneVolumes removes the volumes no container uses: anonymous ones only,
// as Docker since 23.0, or all with all set. It returns the names removed
// and the space freed.
func (m *Manager) PruneVolumes(ctx context.Context, all bool) ([]string, int64, error) {
	unlock, err := m.volumes.Lock()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	vols, err := m.volumes.List()
	if err != nil {
		return nil, 0, err
	}
	containers, err := m.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	used := map[string]bool{}
	for _, c := range containers {
		for _, mp := range c.Mounts {
			if mp.Type == "volume" {
				used[mp.Name] = true
			}
		}
	}
	var removed []string
	var space int64
	for _, v := range vols {
		if used[v.Name] || (!all && !v.Anonymous()) {
			continue
		}
		size := m.volumes.Size(v.Name)
		if err := m.volumes.Remove(v.Name); err != nil {
			return removed, space, err
		}
		removed = append(removed, v.Name)
		space += size
	}
	return removed, space, nil
}

// CreateVolume makes a named volume (or, with an empty name, an anonymous
// one); an existing one is returned as it is.
func (m *Manager) CreateVolume(ctx context.Context, name string, labels map[string]string) (*volume.Volume, error) {
	return m.volumes.Create(name, labels)
}
