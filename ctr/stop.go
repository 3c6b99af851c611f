package ctr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr/crashpoint"
	"github.com/berth-dev/berth/ctr/shim"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/du"
)

// DefaultStopTimeout is how long stop waits before SIGKILL, as Docker's.
const DefaultStopTimeout = 10 * time.Second

// ParseSignal reads a signal as Docker's CLI takes it: "SIGTERM", "TERM",
// "term" or "15".
func ParseSignal(s string) (syscall.Signal, error) {
	sig, _, err := signalOf(s)
	return sig, err
}

func signalOf(s string) (syscall.Signal, string, error) {
	if s == "" {
		return unix.SIGTERM, "SIGTERM", nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, "", errdefs.Newf(errdefs.ErrInvalid, "Invalid signal: %s", s)
		}
		return syscall.Signal(n), unix.SignalName(syscall.Signal(n)), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, "", errdefs.Newf(errdefs.ErrInvalid, "Invalid signal: %s", s)
	}
	return sig, name, nil
}

func notRunning(c *Container) error {
	return errdefs.Newf(errdefs.ErrConflict, "Container %s is not running", c.ID)
}

// Kill sends sig to a running container's first process.
func (m *Manager) Kill(ctx context.Context, ref string, sig syscall.Signal) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return notRunning(c)
	}
	if err := shim.Kill(ctx, c.dir, sig); err != nil {
		if errors.Is(err, shim.ErrNotRunning) {
			return notRunning(c)
		}
		return err
	}
	return nil
}

// Stop stops a running container as Docker does: its stop signal, then
// SIGKILL after timeout (nil: the image's stop timeout, else 10s). A
// container that is not running is left as it is.
func (m *Manager) Stop(ctx context.Context, ref string, timeout *time.Duration) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return nil
	}
	return m.stop(ctx, c, timeout)
}

func (m *Manager) stop(ctx context.Context, c *Container, timeout *time.Duration) error {
	wait := DefaultStopTimeout
	if c.Config.StopTimeout != nil {
		wait = time.Duration(*c.Config.StopTimeout) * time.Second
	}
	if timeout != nil {
		wait = *timeout
	}
	sig, _, err := signalOf(c.Config.StopSignal)
	if err != nil {
		sig = unix.SIGTERM
	}
	if wait != 0 {
		if err := shim.Kill(ctx, c.dir, sig); err != nil {
			if errors.Is(err, shim.ErrNotRunning) {
				return m.settle(ctx, c.ID)
			}
			return err
		}
		if wait > 0 {
			wctx, cancel := context.WithTimeout(ctx, wait)
			_, err := shim.Wait(wctx, c.dir)
			cancel()
			if err == nil || errors.Is(err, shim.ErrNotRunning) {
				return m.settle(ctx, c.ID)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if err := shim.Kill(ctx, c.dir, unix.SIGKILL); err != nil && !errors.Is(err, shim.ErrNotRunning) {
		return err
	}
	if _, err := shim.Wait(ctx, c.dir); err != nil && !errors.Is(err, shim.ErrNotRunning) {
		return err
	}
	return m.settle(ctx, c.ID)
}

// Restart stops the container (see Stop) and starts it again, detached.
func (m *Manager) Restart(ctx context.Context, ref string, timeout *time.Duration) error {
	if err := m.Stop(ctx, ref, timeout); err != nil {
		return err
	}
	_, err := m.Start(ctx, ref, nil)
	return err
}

// settle brings the record up to date after the shim went away (the shim
// records the exit itself; if it died instead, reconcile does).
func (m *Manager) settle(ctx context.Context, id string) error {
	c, err := m.load(id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err = m.reconcile(ctx, c); errors.Is(err, errGone) {
		return nil // removed (--rm): settled for good
	}
	return err
}

// Wait blocks until the container is not running and returns its exit code.
func (m *Manager) Wait(ctx context.Context, ref string) (int, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return -1, err
	}
	if !c.State.Running {
		return c.State.ExitCode, nil
	}
	code, err := shim.Wait(ctx, c.dir)
	if err == nil {
		return code, nil
	}
	if !errors.Is(err, shim.ErrNotRunning) {
		return -1, err
	}
	// The shim died: reconcile to learn what is known (an --rm container
	// is removed by it: NotFound).
	if c, err = m.Get(ctx, c.ID); err != nil {
		return -1, err
	}
	return c.State.ExitCode, nil
}

// RemoveOptions are rm's flags.
type RemoveOptions struct {
	// Force kills a running container first.
	Force bool
	// Volumes removes the container's anonymous volumes too.
	Volumes bool
}

// Remove removes a container, which must not be running unless Force is
// set. Nothing stays mounted, and the container's namespace and address
// are released.
func (m *Manager) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	// A start may slip in between the stop and the removal: with Force,
	// stop again.
	for try := 0; ; try++ {
		if c.State.Running {
			if !o.Force {
				return errdefs.Newf(errdefs.ErrConflict, "You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.ID)
			}
			zero := time.Duration(0)
			if err := m.stop(ctx, c, &zero); err != nil {
				return err
			}
		}
		volumes := keepVolumes
		if o.Volumes {
			volumes = removeVolumes
		}
		err := m.remove(ctx, c.ID, volumes)
		if !errdefs.IsConflict(err) || !o.Force || try == 3 {
			return err
		}
		if c, err = m.Get(ctx, c.ID); errdefs.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// volumePolicy is what a removal does with the container's anonymous
// volumes.
type volumePolicy int

const (
	keepVolumes volumePolicy = iota
	// removeVolumes waits for the volume lock.
	removeVolumes
	// removeVolumesIfFree does not: its caller may be a listing under the
	// volume lock (volume prune and rm list the containers). If the lock
	// is held, the container is left out of sight and marked, and a later
	// listing finishes its removal.
	removeVolumesIfFree
)

// remove deletes a stopped container's directory, name and, as volumes
// says, its anonymous volumes.
func (m *Manager) remove(ctx context.Context, id string, volumes volumePolicy) error {
	unlock, err := m.lock(id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()
	c, err := m.load(id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.State.Running && m.shimAlive(c.State.Shim) {
		return errdefs.Newf(errdefs.ErrConflict, "You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.ID)
	}
	if err := m.teardown(ctx, c); err != nil {
		return fmt.Errorf("remove container %s: %w", c.ShortID(), err)
	}
	crashpoint.Hit("remove-teardown")
	if volumes != keepVolumes {
		if err := markRemoveVolumes(c.dir); err != nil {
			return fmt.Errorf("remove container %s: %w", c.ShortID(), err)
		}
	}
	gone, err := m.unlink(c)
	if err != nil {
		return err
	}
	crashpoint.Hit("remove-unlinked")
	return m.finishRemoval(ctx, c, gone, volumes)
}

// removeVolumesFile marks a container whose anonymous volumes go with it
// (rm -v, --rm, a create that failed): a removal killed midway is
// finished with them.
const removeVolumesFile = "remove-volumes"

func markRemoveVolumes(dir string) error {
	return os.WriteFile(filepath.Join(dir, removeVolumesFile), nil, 0o600)
}

// unlink takes a torn-down container out of sight: its directory is
// renamed away, so a crash midway leaves no half-container behind but a
// .rm- directory that the next listing deletes, and its name is freed.
// The caller deletes the returned directory (finishRemoval); nothing is
// mounted in it, as teardown has checked, so the deletion never reaches
// through a mount.
func (m *Manager) unlink(c *Container) (string, error) {
	gone := filepath.Join(m.dir, rmPrefix+c.ID)
	if err := os.Rename(c.dir, gone); err != nil {
		return "", fmt.Errorf("remove container %s: %w", c.ShortID(), err)
	}
	m.releaseName(c.Name, c.ID)
	return gone, nil
}

// finishRemoval removes c's anonymous volumes as volumes says, then
// deletes gone, its directory out of sight. The volumes go first, while
// the directory still says which they are. The caller holds c's lock:
// taking the volume lock meanwhile cannot deadlock with another process,
// since nobody waits for the lock of a container out of sight (reapers
// only try it).
func (m *Manager) finishRemoval(ctx context.Context, c *Container, gone string, volumes volumePolicy) error {
	var errs []error
	switch volumes {
	case removeVolumes:
		errs = append(errs, m.removeAnonymous(ctx, c))
	case removeVolumesIfFree:
		unlock, ok, err := m.volumes.TryLock()
		if err != nil {
			return err
		}
		if !ok {
			return nil // marked and out of sight: a later listing finishes
		}
		err = m.removeAnonymousLocked(c)
		unlock()
		if err != nil {
			return err
		}
	}
	if err := os.RemoveAll(gone); err != nil {
		errs = append(errs, fmt.Errorf("remove container %s: %w", c.ShortID(), err))
	}
	return errors.Join(errs...)
}

// removeAnonymousLocked is removeAnonymous for a caller that holds the
// volume lock; it reads the records as they are, without a listing.
func (m *Manager) removeAnonymousLocked(c *Container) error {
	for _, mp := range c.Mounts {
		if !mp.Anonymous || m.volumeInUse(mp.Name, c.ID) {
			continue
		}
		if err := m.volumes.Remove(mp.Name); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// removeAnonymous removes the anonymous volumes c used, unless another
// container uses them too.
func (m *Manager) removeAnonymous(ctx context.Context, c *Container) error {
	var errs []error
	for _, mp := range c.Mounts {
		if !mp.Anonymous {
			continue
		}
		if err := m.RemoveVolume(ctx, mp.Name, false); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Prune removes every container that is not running and returns their IDs
// and the space their writable layers took.
func (m *Manager) Prune(ctx context.Context) ([]string, int64, error) {
	list, err := m.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	var space int64
	for _, c := range list {
		if c.State.Running {
			continue
		}
		size := du.Size(filepath.Join(c.dir, "upper"))
		if err := m.remove(ctx, c.ID, keepVolumes); err != nil {
			return ids, space, err
		}
		ids = append(ids, c.ID)
		space += size
	}
	return ids, space, nil
}
