package engine

import (
	"context"

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
