package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
)

// ContainerRef records that a container exists and which layers its root
// filesystem stacks: a root for the sweep, and what `rmi` consults.
type ContainerRef struct {
	ID       string
	Name     string
	ImageID  digest.Digest
	ImageRef string // the image as the user named it
	Created  time.Time
	Layers   []digest.Digest // chain IDs, lowest first
}

// AddContainer records a container. Its layers must be in the store.
func (tx *Tx) AddContainer(ctx context.Context, c ContainerRef) error {
	for _, l := range c.Layers {
		// The image that holds these layers was committed after a
		// syncfs, so finding them asks for no other.
		if !tx.s.layerExists(l) {
			return fmt.Errorf("container %s: layer %s is not unpacked: %w", c.ID, l, errdefs.ErrNotFound)
		}
	}
	if _, err := tx.tx.ExecContext(ctx, `INSERT INTO containers (id, name, image_id, image_ref, created) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.ImageID.String(), c.ImageRef, nanos(c.Created)); err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("the container name %q is already in use: %w", c.Name, errdefs.ErrConflict)
		}
		return err
	}
	for i, l := range c.Layers {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO container_layers (container_id, position, chain_id) VALUES (?, ?, ?)`, c.ID, i, l.String()); err != nil {
			return err
		}
	}
	return nil
}

// RemoveContainer deletes a container record.
func (tx *Tx) RemoveContainer(ctx context.Context, id string) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM containers WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// Containers lists container records, all or those using one image.
func (tx *Tx) Containers(ctx context.Context, imageID digest.Digest) ([]ContainerRef, error) {
	q, args := `SELECT id, name, image_id, image_ref, created FROM containers ORDER BY created DESC, id`, []any{}
	if imageID != "" {
		q, args = `SELECT id, name, image_id, image_ref, created FROM containers WHERE image_id = ? ORDER BY created DESC, id`, []any{imageID.String()}
	}
	rows, err := tx.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []ContainerRef
	for rows.Next() {
		var c ContainerRef
		var img string
		var created int64
		if err := rows.Scan(&c.ID, &c.Name, &img, &c.ImageRef, &created); err != nil {
			rows.Close()
			return nil, err
		}
		c.ImageID, c.Created = digest.Digest(img), fromNanos(created)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		lrows, err := tx.tx.QueryContext(ctx, `SELECT chain_id FROM container_layers WHERE container_id = ? ORDER BY position`, out[i].ID)
		if err != nil {
			return nil, err
		}
		for lrows.Next() {
			var l string
			if err := lrows.Scan(&l); err != nil {
				lrows.Close()
				return nil, err
			}
			out[i].Layers = append(out[i].Layers, digest.Digest(l))
		}
		lrows.Close()
	}
	return out, nil
}

// HoldContainer keeps the record of container id under lease l while the
// container is being made: ForgetContainers leaves a held record alone
// although its container does not exist yet.
func (tx *Tx) HoldContainer(ctx context.Context, l *Lease, id string) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO lease_refs (lease_id, kind, key) VALUES (?, 'container', ?) ON CONFLICT DO NOTHING`, l.ID, id)
	return err
}

// ForgetContainers removes the records of the containers gone reports
// as gone, except those a live lease holds (being made). It returns the
// IDs it removed. Run it in Collect, so their layers go at once unless
// something else keeps them.
func (tx *Tx) ForgetContainers(ctx context.Context, gone func(id string) bool) ([]string, error) {
	if err := tx.dropDeadLeases(ctx); err != nil {
		return nil, err
	}
	held := map[string]bool{}
	rows, err := tx.tx.QueryContext(ctx, `SELECT key FROM lease_refs WHERE kind = 'container'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, err
		}
		held[k] = true
	}
	rows.Close()
	ctrs, err := tx.Containers(ctx, "")
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, c := range ctrs {
		if held[c.ID] || !gone(c.ID) {
			continue
		}
		if err := tx.RemoveContainer(ctx, c.ID); err != nil {
			return removed, err
		}
		removed = append(removed, c.ID)
	}
	return removed, nil
}
