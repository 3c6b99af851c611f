package ctr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// What a berth process killed midway leaves, and who cleans it up.
//
// A container appears whole or not at all: Create builds it in
// .mk-<id>.<pid>.<start>, locks it and renames it to .new-<id> (so that a .new- directory
// is locked from the moment it exists), takes its name, writes its record,
// makes its volumes, and renames it into place as <id>. Only <id>
// directories are containers. A removal renames <id> to .rm-<id> before
// deleting it. The lock of a directory being made or removed is held by
// the process doing it, so a directory whose lock is free was left by a
// process that died:
//
//   - .new-<id> with a free lock: the create was killed; its directory,
//     name and anonymous volumes go (List, and whoever wants the name);
//   - .mk-<id>.<pid>.<start>: killed before it was locked, which its
//     maker's process, gone or another, tells at once; it holds nothing but
//     empty directories (List). A .mk-<id> of an older berth goes once
//     older than mkGrace;
//   - <id> without a record, older than mkGrace: a create killed by a
//     berth from before .new- directories, or an --rm container whose
//     record, written unsynced, a crash of the host lost (List);
//   - .rm-<id> with a free lock: the removal was killed; it is finished,
//     network and runc state included, and the anonymous volumes if the
//     removal was to take them (rm -v, --rm), as the directory says (List);
//   - a record saying running whose shim is gone: see reconcile (List);
//   - a container that is not running but has mounts, a network
//     namespace, a veth, an address or runc state: its start was killed
//     between setting up and handing the container to its shim; it is torn
//     down (Reap; the next start or rm does the same);
//   - a name whose container is gone, or that its container no longer
//     has (a rename killed midway): freed (Reap; a create wanting it frees
//     it too);
//   - volumes half made or half removed (Reap, see volume.Sweep).
//
// A start holds its container's lock until the shim has recorded the
// container as running: the starter hands a copy of the lock to the shim
// with the configuration, so that the lock outlives a starter killed after
// the hand-over and Reap never tears down a container that is starting.
const (
	mkPrefix  = ".mk-"
	newPrefix = ".new-"
	rmPrefix  = ".rm-"
)

// mkGrace is how old an unlocked .mk- directory must be before it counts
// as left by a dead process: it is locked within a few system calls of
// being made.
const mkGrace = time.Minute

// Reap cleans up what berth processes killed midway left behind (see
// above): all that List does, and the leftovers of killed starts, stale
// names and volume leftovers, which cost more to find. It returns what it
// did, one line each. `container prune` and `system check` run it.
func (m *Manager) Reap(ctx context.Context) ([]string, error) {
	list, done, err := m.list(ctx)
	if err != nil {
		return done, err
	}
	started, err := m.reapStarts(ctx, list)
	done = append(done, started...)
	done = append(done, m.reapNames(list)...)
	for _, v := range m.volumes.Sweep(mkGrace) {
		done = append(done, "removed "+v+", left in the volumes directory by a killed berth")
	}
	return done, err
}

// reapEntry cleans up after a killed create or removal if name, an entry
// of the containers directory, is one it left. It returns what it did, or
// "" for anything else.
func (m *Manager) reapEntry(ctx context.Context, name string) string {
	for _, p := range []string{rmPrefix, newPrefix, mkPrefix} {
		id, ok := strings.CutPrefix(name, p)
		if p == mkPrefix {
			id, _, _ = strings.Cut(id, ".")
		}
		if !ok || !validID(id) {
			continue
		}
		var done string
		var err error
		switch p {
		case rmPrefix:
			done, err = m.reapRemoved(ctx, id)
		case newPrefix:
			done, err = m.reapNew(ctx, id)
		case mkPrefix:
			done, err = m.reapMk(name, id)
		}
		if err != nil {
			slog.Warn("could not clean up after a killed berth", "dir", name, "err", err)
		}
		return done
	}
	return ""
}

// reapRemoved finishes a removal that was killed after the container was
// renamed away, unless it is still under way.
func (m *Manager) reapRemoved(ctx context.Context, id string) (string, error) {
	dir := filepath.Join(m.dir, rmPrefix+id)
	f, err := tryLock(filepath.Join(dir, lockFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Deleted in part already, the lock file with it: nobody can be
		// changing what is left.
	case err != nil:
		return "", err
	case f == nil:
		return "", nil // under way
	default:
		defer f.Close()
	}
	if err := m.purge(ctx, dir, id); errors.Is(err, errVolumesBusy) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return fmt.Sprintf("finished removing container %s (its removal was killed)", id[:12]), nil
}

// reapNew undoes a create that was killed before it finished, unless its
// creator still runs. It reports whether it did, and what.
func (m *Manager) reapNew(ctx context.Context, id string) (string, error) {
	dir := filepath.Join(m.dir, newPrefix+id)
	f, err := tryLock(filepath.Join(dir, lockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil // renamed into place or reaped meanwhile
	}
	if err != nil || f == nil {
		return "", err
	}
	defer f.Close()
	c, err := loadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Debug("record of a killed create unreadable", "id", id, "err", err)
	}
	// Out of sight first, as a removal does, with the anonymous volumes
	// the create made (they are new: nobody else uses them): a crash from
	// here on leaves a .rm- directory, which the next listing finishes.
	if err := markRemoveVolumes(dir); err != nil {
		return "", fmt.Errorf("remove the leftovers of container %s: %w", id[:12], err)
	}
	gone := filepath.Join(m.dir, rmPrefix+id)
	if err := os.Rename(dir, gone); err != nil {
		return "", fmt.Errorf("remove the leftovers of container %s: %w", id[:12], err)
	}
	if c != nil {
		m.releaseName(c.Name, id)
	} else {
		m.releaseNamesOf(id) // killed before the record named it
	}
	done := fmt.Sprintf("removed container %s (its create was killed before it finished)", id[:12])
	if err := m.purge(ctx, gone, id); errors.Is(err, errVolumesBusy) {
		return done, nil // out of sight; a later listing deletes the rest
	} else if err != nil {
		return "", err
	}
	return done, nil
}

// mkName is the name a create makes its directory under before it can
// lock it: it names the creating process (pid and start time), so that a
// create killed in that instant is told from one under way at once.
func mkName(id string) string {
	pid := os.Getpid()
	start, _ := processStart(pid)
	return fmt.Sprintf("%s%s.%d.%d", mkPrefix, id, pid, start)
}

// mkMakerAlive tells whether the process a .mk- name names still runs;
// for a name without one (an older berth's), whether the directory is
// younger than mkGrace.
func mkMakerAlive(name string, fi os.FileInfo) bool {
	var pid int
	var start uint64
	tail := strings.TrimPrefix(name, mkPrefix)[64:] // after the ID, which the caller checked
	if _, err := fmt.Sscanf(tail, ".%d.%d", &pid, &start); err != nil {
		return time.Since(fi.ModTime()) < mkGrace
	}
	now, alive := processStart(pid)
	return alive && now == start
}

// reapMk deletes a directory whose create was killed before it locked it.
func (m *Manager) reapMk(name, id string) (string, error) {
	dir := filepath.Join(m.dir, name)
	fi, err := os.Stat(dir)
	if err != nil || mkMakerAlive(name, fi) {
		return "", nil
	}
	if err := unmountAll(dir); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return fmt.Sprintf("removed the directory of container %s (its create was killed as it began)", id[:12]), nil
}

// reapRecordless deletes a container directory without a record, which
// creates of berth versions before .new- directories left when killed,
// and a crash of the host an --rm container (its record is not synced).
// The old creates took no lock, so the directory must also be old.
func (m *Manager) reapRecordless(ctx context.Context, id string) (string, error) {
	dir := m.containerDir(id)
	fi, err := os.Stat(dir)
	if err != nil || time.Since(fi.ModTime()) < mkGrace {
		return "", nil
	}
	f, err := tryLock(filepath.Join(dir, lockFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", err
	case f == nil:
		return "", nil
	default:
		defer f.Close()
	}
	if _, err := loadDir(dir); !errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	gone := filepath.Join(m.dir, rmPrefix+id)
	if err := os.Rename(dir, gone); err != nil {
		return "", fmt.Errorf("remove the leftovers of container %s: %w", id[:12], err)
	}
	m.releaseNamesOf(id)
	if err := m.purge(ctx, gone, id); err != nil {
		return "", err
	}
	return fmt.Sprintf("removed container directory %s, which has no record (a create was killed)", id[:12]), nil
}

// purge tears down and deletes dir, the directory of container id that
// nobody else is changing (its lock is held, or gone), with its anonymous
// volumes if it is so marked. Its record, if still there, names the
// network to give back and the volumes; unrecorded network and runc state
// are found by the ID. Nothing is deleted through a mount.
func (m *Manager) purge(ctx context.Context, dir, id string) error {
	c, err := loadDir(dir)
	if err != nil {
		c = &Container{ID: id}
	}
	c.ID, c.dir = id, dir // whatever the record says, this is what is on disk
	var anon []string
	if _, err := os.Stat(filepath.Join(dir, removeVolumesFile)); err == nil {
		for _, mp := range c.Mounts {
			if mp.Anonymous {
				anon = append(anon, mp.Name)
			}
		}
	}
	if len(anon) > 0 {
		// Not waited for: List runs under it (volume prune, volume rm).
		unlock, ok, err := m.volumes.TryLock()
		if err != nil {
			return err
		}
		if !ok {
			return errVolumesBusy
		}
		defer unlock()
	}
	if err := m.teardown(ctx, c); err != nil {
		return fmt.Errorf("clean up container %s: %w", id[:12], err)
	}
	if len(anon) > 0 {
		if err := m.removeAnonymousLocked(c); err != nil {
			return fmt.Errorf("clean up container %s: %w", id[:12], err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clean up container %s: %w", id[:12], err)
	}
	return nil
}

// errVolumesBusy: a cleanup needs the volume lock, which another holds;
// what it cleans up stays out of sight until a later listing.
var errVolumesBusy = errors.New("the volume store is locked")

// volumeInUse reports whether a container other than except, made or
// being made, mounts the named volume. It reads the records as they are,
// without the listing's cleanups, which may be what is asking.
func (m *Manager) volumeInUse(name, except string) bool {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return true
	}
	for _, e := range entries {
		id := strings.TrimPrefix(e.Name(), newPrefix)
		if !validID(id) || id == except {
			continue
		}
		c, err := loadDir(filepath.Join(m.dir, e.Name()))
		if err != nil {
			continue
		}
		for _, mp := range c.Mounts {
			if mp.Type == "volume" && mp.Name == name {
				return true
			}
		}
	}
	return false
}

// reapStarts tears down the stopped containers that still hold what a
// start sets up: a start killed midway left it (or a shim that failed
// after its starter died).
func (m *Manager) reapStarts(ctx context.Context, list []*Container) ([]string, error) {
	mps, err := allMounts()
	if err != nil {
		return nil, err
	}
	owners, err := m.net.Owners()
	if err != nil {
		// Only a faster way to spot an address: the veth and namespace
		// checks and teardown's scrub still find the rest.
		slog.Debug("address allocations unreadable", "err", err)
	}
	var done []string
	var errs []error
	for _, c := range list {
		if c.State.Running {
			continue
		}
		what := m.leftBehind(c, mps, owners)
		if len(what) == 0 {
			continue
		}
		ok, err := m.tearDownStopped(ctx, c.ID)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			done = append(done, fmt.Sprintf("tore down container %s, whose start was killed midway: %s", c.ShortID(), strings.Join(what, ", ")))
		}
	}
	return done, errors.Join(errs...)
}

// leftBehind lists what of a start a stopped container still holds.
func (m *Manager) leftBehind(c *Container, mps []string, owners map[string][]netip.Addr) []string {
	var what []string
	for _, mp := range mps {
		if mp == c.dir || strings.HasPrefix(mp, c.dir+"/") {
			what = append(what, "mounts")
			break
		}
	}
	if c.NetworkSettings.Endpoint != nil || len(owners[c.ID]) > 0 || m.net.Attached(c.ID) {
		what = append(what, "network")
	}
	if _, err := os.Stat(filepath.Join(m.runc.Root, c.ID)); err == nil {
		what = append(what, "runc state")
	}
	if _, err := os.Stat(m.overlay(c).LinkDir); err == nil {
		what = append(what, "layer links")
	}
	return what
}

// tearDownStopped tears down container id if it is not running and no
// other process holds its lock (a start under way does, until the
// container runs).
func (m *Manager) tearDownStopped(ctx context.Context, id string) (bool, error) {
	f, err := m.tryLockContainer(id)
	if f == nil || err != nil {
		return false, err
	}
	defer f.Close()
	c, err := m.load(id)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if c.State.Running {
		return false, nil // its shim came up meanwhile: reconcile's business
	}
	if err := m.teardown(ctx, c); err != nil {
		return false, fmt.Errorf("clean up container %s: %w", c.ShortID(), err)
	}
	return true, m.save(c)
}

// tryLockContainer takes the lock of container id, which exists, if
// nobody holds it; nil if somebody does, or the container went meanwhile.
func (m *Manager) tryLockContainer(id string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(m.containerDir(id), lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", id[:12], err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock container %s: %w", id[:12], err)
	}
	return f, nil
}

// reapNames frees the names whose container is gone, and those a
// container no longer has (a rename killed between taking the new name and
// letting the old go). list is a recent listing.
func (m *Manager) reapNames(list []*Container) []string {
	byID := map[string]*Container{}
	for _, c := range list {
		byID[c.ID] = c
	}
	entries, err := os.ReadDir(filepath.Join(m.dir, namesDir))
	if err != nil {
		return nil
	}
	var done []string
	for _, e := range entries {
		name := e.Name()
		owner, err := os.Readlink(filepath.Join(m.dir, namesDir, name))
		if err != nil {
			continue
		}
		if c := byID[owner]; c != nil {
			if c.Name != name && m.dropExtraName(name, owner) {
				done = append(done, fmt.Sprintf("freed the name %s, which container %s no longer has (a rename was killed)", name, owner[:12]))
			}
			continue
		}
		if !m.exists(owner) {
			m.releaseName(name, owner)
			done = append(done, fmt.Sprintf("freed the name %s of a container that does not exist", name))
		}
	}
	return done
}

// dropExtraName frees name, which points at container id, if the
// container's record, read under its lock, has another name. A container
// whose lock is held (a rename under way) is left for another time.
func (m *Manager) dropExtraName(name, id string) bool {
	f, err := m.tryLockContainer(id)
	if f == nil || err != nil {
		return false
	}
	defer f.Close()
	c, err := m.load(id)
	if err != nil || c.Name == name {
		return false
	}
	m.releaseName(name, id)
	return true
}

// releaseNamesOf frees every name that points at id.
func (m *Manager) releaseNamesOf(id string) {
	entries, err := os.ReadDir(filepath.Join(m.dir, namesDir))
	if err != nil {
		return
	}
	for _, e := range entries {
		m.releaseName(e.Name(), id)
	}
}

// exists reports whether container id exists or is being made by a live
// process; a create killed before it finished is reaped on the way. The
// directory being made is looked at first: a create that finishes
// meanwhile renames it to <id>, which is looked at next.
func (m *Manager) exists(id string) bool {
	if !validID(id) {
		return false
	}
	if _, err := os.Lstat(filepath.Join(m.dir, newPrefix+id)); err == nil {
		done, err := m.reapNew(context.Background(), id)
		if done == "" || err != nil {
			return true // its creator runs, or it could not be undone
		}
	}
	_, err := os.Lstat(m.containerDir(id))
	return !errors.Is(err, fs.ErrNotExist)
}
