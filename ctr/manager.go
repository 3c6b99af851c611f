package ctr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr/network"
	"github.com/berth-dev/berth/ctr/runc"
	"github.com/berth-dev/berth/ctr/volume"
	"github.com/berth-dev/berth/errdefs"
)

// Options configure a Manager; the zero value is right for the berth
// command.
type Options struct {
	// RuncPath is the runc binary (default: found on PATH or /usr/sbin).
	RuncPath string `json:",omitempty"`
	// RunDir holds what must not outlive a boot: network namespaces,
	// address allocations, console sockets, short layer links, and runc's
	// state (RunDir/runc). Default /run/berth.
	RunDir string `json:",omitempty"`
	// VolumesDir is the volume store (default: "volumes" beside the
	// containers directory).
	VolumesDir string `json:",omitempty"`
	// Shim is the command that runs ShimMain (default: this executable
	// with the argument "shim"); ShimEnv is added to its environment.
	Shim    []string `json:",omitempty"`
	ShimEnv []string `json:",omitempty"`
	// Bridge and Subnet place the containers' network (default berth0,
	// 10.77.0.0/16).
	Bridge string `json:",omitempty"`
	Subnet string `json:",omitempty"`
}

// Manager creates, runs and removes the containers kept in one directory.
// Several berth processes may use the same directory at once: each
// container's changes happen under a lock on its directory, and the shim of
// a running container is the one writer of its exit.
type Manager struct {
	dir     string
	opts    Options
	runc    runc.Runc
	net     *network.Network
	volumes *volume.Store
	bootID  string
}

// Open returns the manager of the containers in dir, making it if needed.
func Open(ctx context.Context, dir string, opts Options) (*Manager, error) {
	if opts.RunDir == "" {
		opts.RunDir = network.DefaultRunDir
	}
	if opts.VolumesDir == "" {
		opts.VolumesDir = filepath.Join(filepath.Dir(filepath.Clean(dir)), "volumes")
	}
	if opts.RuncPath == "" {
		p, err := runc.Find()
		if err != nil {
			return nil, err
		}
		opts.RuncPath = p
	}
	if len(opts.Shim) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find berth's executable for the shim: %w", err)
		}
		opts.Shim = []string{exe, "shim"}
	}
	if err := os.MkdirAll(filepath.Join(dir, namesDir), 0o710); err != nil {
		return nil, fmt.Errorf("containers directory: %w", err)
	}
	var subnet netip.Prefix
	if opts.Subnet != "" {
		var err error
		if subnet, err = netip.ParsePrefix(opts.Subnet); err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "subnet %q: %v", opts.Subnet, err)
		}
	}
	nw, err := network.New(network.Config{Bridge: opts.Bridge, Subnet: subnet, RunDir: opts.RunDir})
	if err != nil {
		return nil, err
	}
	vols, err := volume.Open(opts.VolumesDir)
	if err != nil {
		return nil, err
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil, fmt.Errorf("read boot id: %w", err)
	}
	return &Manager{
		dir:     dir,
		opts:    opts,
		runc:    runc.Runc{Path: opts.RuncPath, Root: filepath.Join(opts.RunDir, "runc")},
		net:     nw,
		volumes: vols,
		bootID:  strings.TrimSpace(string(boot)),
	}, nil
}

// namesDir holds one symlink per container name, pointing at the ID:
// making a symlink is atomic, so two processes never take one name.
const namesDir = ".names"

// record and lock files in a container's directory.
const (
	recordFile = "container.json"
	// unsyncedFile marks a container whose record was written unsynced:
	// made with the directory, it outlives a crash whenever the
	// directory does, if not the record's content.
	unsyncedFile = "unsynced"
	lockFile     = "lock"
)

func (m *Manager) containerDir(id string) string { return filepath.Join(m.dir, id) }

// load reads the record of container id.
func (m *Manager) load(id string) (*Container, error) {
	c, err := loadDir(m.containerDir(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read container %s: %w", id, err)
	}
	return c, nil
}

// loadDir reads the record in a container's directory, wherever it is
// (in place, being made, being removed).
func loadDir(dir string) (*Container, error) {
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return nil, err
	}
	if len(bytes.Trim(b, "\x00")) == 0 {
		// What a crash of the host may leave of a record written without
		// a sync (an --rm container's, see Create): empty, or its blocks
		// never written. It counts as no record, if the directory says
		// it was not synced; any other container's stays an error.
		if _, err := os.Stat(filepath.Join(dir, unsyncedFile)); err == nil {
			return nil, fmt.Errorf("record in %s lost in a crash: %w", dir, fs.ErrNotExist)
		}
	}
	var c Container
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("record in %s: %w", dir, err)
	}
	c.dir = dir
	return &c, nil
}

// save writes c's record atomically and durably: a crash leaves the old
// or the new.
func (m *Manager) save(c *Container) error { return m.write(c, true) }

// write writes c's record atomically, synced to disk if durable.
func (m *Manager) write(c *Container, durable bool) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, recordFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	_, err = f.Write(b)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, recordFile)); err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	return nil
}

// lock takes container id's lock, held across a change of its state.
func (m *Manager) lock(id string) (func(), error) {
	f, err := m.lockFile(id)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// lockFile takes container id's lock and returns the open lock file:
// closing it lets the lock go. The lock is flock(2)'s, which belongs to
// the open file, so a copy of the descriptor handed to another process
// (the shim) holds it too, until every copy is closed.
func (m *Manager) lockFile(id string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(m.containerDir(id), lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	return f, nil
}

// tryLock takes the lock at path if nobody holds it: it returns the open
// file, or nil if the lock is held. A missing lock file is an
// fs.ErrNotExist error, never made here: the reapers must not lock a
// directory its maker has not locked yet.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// resolve turns a reference (full ID, name, or unique ID prefix, in
// Docker's order) into an ID.
func (m *Manager) resolve(ref string) (string, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" || strings.ContainsAny(ref, "/\x00") || strings.HasPrefix(ref, ".") {
		return "", errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", ref)
	}
	if len(ref) == 64 {
		if _, err := os.Stat(filepath.Join(m.containerDir(ref), recordFile)); err == nil {
			return ref, nil
		}
	}
	if id, err := os.Readlink(filepath.Join(m.dir, namesDir, ref)); err == nil {
		if _, err := os.Stat(filepath.Join(m.containerDir(id), recordFile)); err == nil {
			return id, nil
		}
	}
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return "", fmt.Errorf("list containers: %w", err)
	}
	var found []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ref) && len(e.Name()) == 64 {
			found = append(found, e.Name())
		}
	}
	switch len(found) {
	case 0:
		return "", errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", ref)
	case 1:
		return found[0], nil
	}
	return "", errdefs.Newf(errdefs.ErrInvalid, "Multiple IDs found with provided prefix: %s", ref)
}

// Get returns the container ref names, with its state made true first (a
// record that says running while its shim is gone is brought up to date).
// A container that is not there is an errdefs.ErrNotFound error, "No such
// container: <ref>", whether it never was or went as Get looked (an --rm
// container whose shim died, which reconcile removes): a caller never gets
// a nil container without an error.
func (m *Manager) Get(ctx context.Context, ref string) (*Container, error) {
	id, err := m.resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := m.load(id)
	if err == nil {
		c, err = m.reconcile(ctx, c)
	}
	if errors.Is(err, errGone) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", ref)
	}
	return c, err
}

// List returns every container, newest first. On the way it finishes or
// undoes what killed berth processes left in the directory (see reap.go):
// a create that did not finish, a removal that did not, a running record
// whose shim is gone; so a listing never shows a container half made.
func (m *Manager) List(ctx context.Context) ([]*Container, error) {
	list, done, err := m.list(ctx)
	for _, d := range done {
		slog.Debug("cleaned up after a killed berth", "what", d)
	}
	return list, err
}

// list is List, with what it cleaned up, one line each.
func (m *Manager) list(ctx context.Context) ([]*Container, []string, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list containers: %w", err)
	}
	var out []*Container
	var done []string
	for _, e := range entries {
		if d := m.reapEntry(ctx, e.Name()); d != "" {
			done = append(done, d)
			continue
		}
		if !validID(e.Name()) || !e.IsDir() {
			continue
		}
		c, err := m.load(e.Name())
		if errdefs.IsNotFound(err) {
			// Removed meanwhile, or made by a berth that wrote the record
			// last in place.
			if d, err := m.reapRecordless(ctx, e.Name()); err != nil {
				slog.Warn("could not clean up after a killed berth", "dir", e.Name(), "err", err)
			} else if d != "" {
				done = append(done, d)
			}
			continue
		}
		if err != nil {
			return nil, done, err
		}
		c, err = m.reconcile(ctx, c)
		if errors.Is(err, errGone) {
			continue // removed as we looked (an --rm container whose shim died)
		}
		if err != nil {
			return nil, done, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, done, nil
}

// Dir is the containers directory.
func (m *Manager) Dir() string { return m.dir }

// Volumes is the volume store; use RemoveVolume and PruneVolumes to
// remove, which know what containers use.
func (m *Manager) Volumes() *volume.Store { return m.volumes }
