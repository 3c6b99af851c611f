// Package volume keeps local volumes as Docker's "local" driver does: one
// directory per volume, its data in _data, its metadata beside it.
//
//	<dir>/<name>/_data         what containers see
//	<dir>/<name>/volume.json   created time, labels
//
// A volume appears and disappears whole: it is made in a temporary
// directory and renamed into place, and renamed away before it is deleted.
// Whether a volume is in use is the container manager's knowledge, not the
// store's; the store only offers a lock to check and act under.
package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr/names"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/du"
)

// AnonymousLabel marks a volume made for an image's VOLUME, as Docker marks it.
const AnonymousLabel = "com.docker.volume.anonymous"

// Volume is a volume as `volume inspect` shows it.
type Volume struct {
	CreatedAt  time.Time
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
}

// Anonymous reports whether the volume was made for an image's VOLUME.
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

// Store is a directory of volumes.
type Store struct {
	dir string
}

// Open returns the store in dir, making it if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o701); err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	return &Store{dir: dir}, nil
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CheckName validates a volume name as Docker's local driver does.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return errdefs.Newf(errdefs.ErrInvalid, "create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name)
	}
	return nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Create makes a volume; an empty name makes an anonymous one with a random
// name. Creating a volume that exists returns it, as Docker does.
func (s *Store) Create(name string, labels map[string]string) (*Volume, error) {
	if name == "" {
		name = names.ID()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[AnonymousLabel] = ""
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if v, err := s.Get(name); err == nil {
		return v, nil
	}
	tmp, err := os.MkdirTemp(s.dir, ".new-")
	if err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	if labels == nil {
		labels = map[string]string{}
	}
	meta, err := json.Marshal(metadata{CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: labels})
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := writeSync(filepath.Join(tmp, "volume.json"), meta); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Chmod(tmp, 0o701); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, unix.ENOTEMPTY) {
			return s.Get(name) // made by someone else meanwhile
		}
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	return s.Get(name)
}

type metadata struct {
	CreatedAt time.Time
	Labels    map[string]string
}

func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Get returns the named volume.
func (s *Store) Get(name string) (*Volume, error) {
	if !validName.MatchString(name) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "get %s: no such volume", name)
	}
	b, err := os.ReadFile(filepath.Join(s.dir, name, "volume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "get %s: no such volume", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	var m metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("volume %s metadata: %w", name, err)
	}
	return &Volume{
		CreatedAt:  m.CreatedAt,
		Driver:     "local",
		Labels:     m.Labels,
		Mountpoint: s.Mountpoint(name),
		Name:       name,
		Options:    map[string]string{},
		Scope:      "local",
	}, nil
}

// List returns every volume, by name.
func (s *Store) List() ([]*Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []*Volume
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		v, err := s.Get(e.Name())
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the named volume and its data; the caller has checked
// that no container uses it.
func (s *Store) Remove(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, ".rm-"+names.ID()[:16])
	if err := os.Rename(filepath.Join(s.dir, name), tmp); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// Mountpoint is where the named volume's data is (or will be, once made).
func (s *Store) Mountpoint(name string) string { return filepath.Join(s.dir, name, "_data") }

// Sweep deletes what killed processes left while making or removing
// volumes: removals (".rm-", renamed away, so nothing reads them) at once,
// and volumes being made (".new-", held by no lock) once older than grace,
// so that a Create under way keeps its directory.
func (s *Store) Sweep(grace time.Duration) []string {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	var swept []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !(strings.HasPrefix(name, ".rm-") || strings.HasPrefix(name, ".new-")) {
			continue
		}
		if strings.HasPrefix(name, ".new-") {
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < grace {
				continue
			}
		}
		if err := os.RemoveAll(filepath.Join(s.dir, name)); err == nil {
			swept = append(swept, name)
		}
	}
	return swept
}

// Size is the disk space the volume's data takes, in bytes.
func (s *Store) Size(name string) int64 { return du.Size(filepath.Join(s.dir, name, "_data")) }

// Lock takes the store's lock: creating a container with volumes and
// removing volumes both hold it, so a volume is never removed while a
// container that uses it is being made.
func (s *Store) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock volumes: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock volumes: %w", err)
	}
	return func() { f.Close() }, nil
}

// TryLock is Lock if the lock is free; ok is false if another holds it
// (another open of the lock, in this process too). It serves cleanups
// that may run while their caller holds the lock, and must not wait for
// it.
func (s *Store) TryLock() (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("lock volumes: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock volumes: %w", err)
	}
	return func() { f.Close() }, true, nil
}
