package engine

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/crashpoint"
	"github.com/berth-dev/berth/ctr/names"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/store"
)

// Containers.
//
// The engine runs containers with a ctr.Manager over the store's
// containers directory, opened at first use (listing images needs no
// runc). Two records describe a container: the runtime's (what it is and
// does) and the store's ContainerRef (a root that keeps its layers, and
// what rmi consults). They are kept consistent so:
//
//   - create records the ref first, held by a lease of this process, and
//     only then makes the runtime container under the same ID; if that
//     fails the ref goes again;
//   - rm removes the runtime container first, then the ref, and sweeps
//     what nothing else keeps.
//
// A crash therefore leaves at worst a ref without a runtime container,
// which only keeps layers a little longer. SyncContainers, run by every
// listing, rmi, image prune, df and check, forgets such refs unless a live
// lease holds them (a create under way in another process); an --rm
// container that its shim removed leaves its ref the same way and goes
// the same way. The runtime's own half-made containers (a create killed
// before its container was renamed into place) are not containers: the
// runtime's listing removes them, and their refs go as above. The
// reverse, a runtime container without a ref, no berth order leaves
// behind; should one appear (a store put back from a copy), it is adopted
// while its layers are still in the store.
//
// RepairContainers (container prune, system check) also undoes what
// killed starts and renames left; see ctr.Manager.Reap.
//
// Names belong to the runtime (it takes them atomically and renames); the
// store's ref is keyed by the container's ID alone.
type containers struct {
	opts ctr.Options
	mu   sync.Mutex
	mgr  *ctr.Manager
}

// runtime is the engine's container runtime, opened at first use. It
// stays inside the engine: every change to a container goes through the
// engine, which keeps its records in step.
func (e *Engine) runtime(ctx context.Context) (*ctr.Manager, error) {
	e.ctrs.mu.Lock()
	defer e.ctrs.mu.Unlock()
	if e.ctrs.mgr != nil {
		return e.ctrs.mgr, nil
	}
	m, err := ctr.Open(ctx, e.store.ContainersDir(), e.ctrs.opts)
	if err != nil {
		return nil, err
	}
	e.ctrs.mgr = m
	return m, nil
}

// CheckRuntime reports why containers cannot run here (no runc, not
// root), nil if they can.
func (e *Engine) CheckRuntime(ctx context.Context) error {
	_, err := e.runtime(ctx)
	return err
}

// containerRunning tells rmi's rules whether a container runs.
func (e *Engine) containerRunning(ctx context.Context, id string) bool {
	m, err := e.runtime(ctx)
	if err != nil {
		return false
	}
	c, err := m.Get(ctx, id)
	return err == nil && c.State.Running
}

// CreateContainer makes a container of the image o.Image names (resolved
// as Resolve does; a missing image is an errdefs.ErrNotFound error). The
// engine fills in the image's ID, config and layers.
func (e *Engine) CreateContainer(ctx context.Context, o CreateOptions) (*Container, error) {
	r, err := e.Resolve(ctx, o.Image)
	if err != nil {
		return nil, err
	}
	cfg, err := e.Config(r.ID)
	if err != nil {
		return nil, err
	}
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, err
	}
	lease, err := e.store.NewLease(ctx)
	if err != nil {
		return nil, err
	}
	defer lease.Release(ctx)
	id := names.ID()
	var dirs []string
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		// The image may have gone since it was resolved.
		img, err := tx.Image(ctx, r.ID)
		if errdefs.IsNotFound(err) {
			return NoSuchImage(o.Image)
		} else if err != nil {
			return err
		}
		ref := store.ContainerRef{ID: id, Name: id, ImageID: r.ID, ImageRef: o.Image, Created: time.Now().UTC()}
		dirs = dirs[:0]
		for _, l := range img.Layers {
			ref.Layers = append(ref.Layers, l.ChainID)
			dirs = append(dirs, e.store.LayerDir(l.ChainID))
		}
		if err := tx.HoldContainer(ctx, lease, id); err != nil {
			return err
		}
		return tx.AddContainer(ctx, ref)
	})
	if err != nil {
		return nil, err
	}
	crashpoint.Hit("create-ref")
	o.ID, o.ImageID, o.Layers, o.ImageConfig = id, r.ID.String(), dirs, cfg.Config
	c, err := m.Create(ctx, o)
	if err != nil {
		if ferr := e.forgetContainers(context.WithoutCancel(ctx), &Container{ID: id, ImageID: r.ID.String()}); ferr != nil {
			slog.Warn("could not forget a container that failed to be made", "id", id, "err", ferr)
		}
		return nil, err
	}
	crashpoint.Hit("create-done")
	return c, nil
}

// RemoveContainer removes a container (rm): the runtime's, then the ref,
// sweeping the layers nothing else keeps. It returns the container's ID.
func (e *Engine) RemoveContainer(ctx context.Context, ref string, o RemoveOptions) (string, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return "", err
	}
	c, err := m.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	if err := m.Remove(ctx, c.ID, o); err != nil {
		return "", err
	}
	crashpoint.Hit("remove-done")
	return c.ID, e.forgetContainers(context.WithoutCancel(ctx), c)
}

// PruneContainers removes every stopped container keep does not keep
// (container prune) and returns their IDs and the space their writable
// layers took.
func (e *Engine) PruneContainers(ctx context.Context, keep func(*Container) bool) ([]string, int64, error) {
	// What killed berths left goes too, the stopped containers' mounts
	// and networks first, so that their removal does not stumble on them.
	done, err := e.RepairContainers(ctx)
	for _, d := range done {
		slog.Info("cleaned up after a killed berth", "what", d)
	}
	if err != nil {
		slog.Warn("could not clean up all that killed berths left", "err", err)
	}
	list, err := e.Containers(ctx)
	if err != nil {
		return nil, 0, err
	}
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	var removed []*Container
	var space int64
	var errs []error
	for _, c := range list {
		if c.State.Running || (keep != nil && keep(c)) {
			continue
		}
		size := c.WritableSize()
		// The runtime refuses a container that started meanwhile.
		if err := m.Remove(ctx, c.ID, ctr.RemoveOptions{}); err != nil {
			if !errdefs.IsConflict(err) {
				errs = append(errs, err)
			}
			continue
		}
		ids = append(ids, c.ID)
		removed = append(removed, c)
		space += size
	}
	if len(removed) > 0 {
		errs = append(errs, e.forgetContainers(context.WithoutCancel(ctx), removed...))
	}
	return ids, space, errors.Join(errs...)
}

// Containers lists every container, newest first, and brings the store's
// refs in line with them.
func (e *Engine) Containers(ctx context.Context) ([]*Container, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, err
	}
	list, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	return list, e.syncRefs(ctx, m, list)
}

// SyncContainers brings the store's container refs in line with the
// runtime's containers (see the comment on containers). Without a usable
// runtime (no runc) there is nothing to sync against and it does nothing.
func (e *Engine) SyncContainers(ctx context.Context) error {
	m, err := e.runtime(ctx)
	if err != nil {
		slog.Debug("container runtime unavailable; container refs not synced", "err", err)
		return nil
	}
	list, err := m.List(ctx)
	if err != nil {
		return err
	}
	return e.syncRefs(ctx, m, list)
}

// RepairContainers undoes or finishes what berth processes killed midway
// left in the runtime (see ctr.Manager.Reap), then brings the store's
// refs in line. It returns what it did, one line each. Without a usable
// runtime (no runc) there is nothing to repair.
func (e *Engine) RepairContainers(ctx context.Context) ([]string, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		slog.Debug("container runtime unavailable; nothing to repair", "err", err)
		return nil, nil
	}
	done, err := m.Reap(ctx)
	return done, errors.Join(err, e.SyncContainers(ctx))
}

// syncContainersOrWarn syncs before an image listing, rmi or check: a
// container that cannot be brought up to date leaves its ref as it is,
// which only keeps its image a little longer.
func (e *Engine) syncContainersOrWarn(ctx context.Context) {
	if err := e.SyncContainers(ctx); err != nil {
		slog.Warn("could not bring container records up to date", "err", err)
	}
}

func (e *Engine) syncRefs(ctx context.Context, m *ctr.Manager, list []*ctr.Container) error {
	live := map[string]*ctr.Container{}
	for _, c := range list {
		live[c.ID] = c
	}
	var refs []store.ContainerRef
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		refs, err = tx.Containers(ctx, "")
		return err
	}); err != nil {
		return err
	}
	known := map[string]bool{}
	stale := false
	for _, r := range refs {
		known[r.ID] = true
		if live[r.ID] == nil {
			stale = true
		}
	}
	// gone asks the runtime again inside the write transaction: the list
	// may be older than a container made since.
	gone := func(id string) bool {
		_, err := m.Get(ctx, id)
		return errdefs.IsNotFound(err)
	}
	if stale {
		if _, err := e.store.Collect(ctx, func(tx *store.Tx) error {
			_, err := tx.ForgetContainers(ctx, gone)
			return err
		}); err != nil {
			return err
		}
	}
	for _, c := range list {
		if !known[c.ID] {
			e.adopt(ctx, c, gone)
		}
	}
	return nil
}

// adopt records a ref for a runtime container that has none, if its
// layers are the store's and still there.
func (e *Engine) adopt(ctx context.Context, c *ctr.Container, gone func(string) bool) {
	ref := store.ContainerRef{ID: c.ID, Name: c.ID, ImageID: digest.Digest(c.ImageID), ImageRef: c.Image, Created: c.Created}
	for _, dir := range c.Layers {
		chain := digest.NewDigestFromEncoded(digest.SHA256, filepath.Base(filepath.Dir(dir)))
		if chain.Validate() != nil || e.store.LayerDir(chain) != dir {
			slog.Warn("container's layers are not in the store; not recorded", "id", c.ID, "layer", dir)
			return
		}
		ref.Layers = append(ref.Layers, chain)
	}
	err := e.store.Update(ctx, func(tx *store.Tx) error {
		// Being removed meanwhile: the runtime's removal comes first.
		if gone(c.ID) {
			return nil
		}
		return tx.AddContainer(ctx, ref)
	})
	if err != nil && !errdefs.IsConflict(err) {
		slog.Warn("could not record a container found without a record", "id", c.ID, "err", err)
	}
}

// forgetContainers drops the refs of cs (their ID and ImageID are read)
// and sweeps what they alone kept. A container's layers are its image's:
// while the image is there, nothing is left for a sweep, which reads the
// whole store and is most of the work of forgetting the ref of an --rm
// container as it exits.
func (e *Engine) forgetContainers(ctx context.Context, cs ...*Container) error {
	forget := func(tx *store.Tx) (orphans bool, err error) {
		for _, c := range cs {
			if err := tx.RemoveContainer(ctx, c.ID); err != nil && !errdefs.IsNotFound(err) {
				return false, err
			}
			if _, err := tx.Image(ctx, digest.Digest(c.ImageID)); errdefs.IsNotFound(err) {
				orphans = true
			} else if err != nil {
				return false, err
			}
		}
		return orphans, nil
	}
	sweep := false
	err := e.store.Update(ctx, func(tx *store.Tx) (err error) {
		sweep, err = forget(tx)
		return err
	})
	if err == nil && sweep {
		// What the refs alone kept goes now, unless a lease took it
		// meanwhile (then it is still wanted).
		_, err = e.store.Collect(ctx, func(tx *store.Tx) error {
			_, err := forget(tx)
			return err
		})
	}
	return err
}

// containerUsage adds containers and volumes to a disk usage report.
func (e *Engine) containerUsage(ctx context.Context, du *DiskUsage) error {
	list, err := e.Containers(ctx)
	if err != nil {
		slog.Debug("container runtime unavailable; no containers in the report", "err", err)
		return nil
	}
	used := map[string]bool{}
	for _, c := range list {
		du.Containers = append(du.Containers, ContainerUsage{ID: c.ID, Running: c.State.Running, Size: c.WritableSize()})
		for _, mp := range c.Mounts {
			if mp.Type == "volume" {
				used[mp.Name] = true
			}
		}
	}
	m, err := e.runtime(ctx)
	if err != nil {
		return err
	}
	vols, err := m.Volumes().List()
	if err != nil {
		return err
	}
	for _, v := range vols {
		du.Volumes = append(du.Volumes, VolumeUsage{Name: v.Name, InUse: used[v.Name], Size: m.Volumes().Size(v.Name)})
	}
	return nil
}
