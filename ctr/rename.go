package ctr

import (
	"context"
	"strings"

	"github.com/berth-dev/berth/ctr/names"
	"github.com/berth-dev/berth/errdefs"
)

// Rename gives a container a new name, as `docker rename` does: the new
// name is taken before the old one is let go, so neither is ever free for
// another container in between.
func (m *Manager) Rename(ctx context.Context, ref, name string) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if err := names.Check(name); err != nil {
		return err
	}
	name = strings.TrimPrefix(name, "/")
	unlock, err := m.lock(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if c, err = m.load(c.ID); err != nil {
		return err
	}
	if c.Name == name {
		return errdefs.Newf(errdefs.ErrInvalid, "Renaming a container with the same name as its current name")
	}
	old := c.Name
	c.Name = name
	if err := m.reserveName(c, false); err != nil {
		return err
	}
	if err := m.save(c); err != nil {
		m.releaseName(name, c.ID)
		return err
	}
	m.releaseName(old, c.ID)
	return nil
}
