package ctr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr/crashpoint"
	"github.com/berth-dev/berth/ctr/names"
	"github.com/berth-dev/berth/ctr/portproxy"
	"github.com/berth-dev/berth/ctr/spec"
	"github.com/berth-dev/berth/ctr/volume"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// CreateOptions are what `berth create` and `berth run` ask for. Fields left
// empty take the image's values, as with Docker.
type CreateOptions struct {
	// ID is the container's ID, 64 hex digits; empty generates one. The
	// engine picks it to record the container in the store first.
	ID string
	// Name is the container's name; empty generates one.
	Name string
	// Image is the reference as the user gave it and ImageID the image's
	// ID; both are recorded for ps and for the rules of rmi.
	Image   string
	ImageID string
	// Layers are the host paths of the image's unpacked layer directories,
	// lowest first.
	Layers []string
	// ImageConfig is the image's runtime config (may be nil).
	ImageConfig *image.ContainerConfig

	// Cmd replaces the image's; Entrypoint, when not nil, replaces the
	// image's entrypoint and drops its Cmd (an empty, non-nil Entrypoint
	// is --entrypoint "").
	Cmd, Entrypoint []string
	// Env adds to and overrides the image's variables.
	Env        []string
	User       string
	WorkingDir string
	Hostname   string
	Labels     map[string]string
	StopSignal string

	Tty       bool
	OpenStdin bool
	// StdinOnce closes stdin when the attached client's stdin ends
	// (docker run -i sets it).
	StdinOnce  bool
	AutoRemove bool

	// Publish are the -p ports; PublishAll publishes every exposed port
	// on a free host port (-P). Expose adds exposed ports ("80/tcp").
	Publish    []portproxy.Binding
	PublishAll bool
	Expose     []string
	// Network is "bridge" (the default), "none" or "host".
	Network string
	// Volumes are -v values (see ParseVolume).
	Volumes []string

	ReadOnly    bool
	Memory      int64   // bytes
	CPUs        float64 // --cpus
	SecurityOpt []string
}

// minMemory is Docker's smallest memory limit.
const minMemory = 6 << 20

// Create makes a container, ready to start. The container appears whole
// or not at all (see reap.go): it is built in a locked directory of its
// own, and renamed into place once its record, name and volumes are
// there; a create killed before that leaves what the next listing
// removes.
func (m *Manager) Create(ctx context.Context, o CreateOptions) (c *Container, err error) {
	c, specs, err := m.newContainer(o)
	if err != nil {
		return nil, err
	}
	tmp, lock, err := m.makeDir(c.ID)
	if err != nil {
		return nil, err
	}
	// After the rename the lock is the container's: held until the
	// container is returned, so it cannot be started or removed half made.
	defer lock.Close()
	final := m.containerDir(c.ID)
	c.dir = tmp
	c.LogPath = filepath.Join(final, "container.log")
	named := false
	var anon []string
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
			if named {
				m.releaseName(c.Name, c.ID)
			}
			for _, v := range anon {
				_ = m.volumes.Remove(v)
			}
		}
	}()
	crashpoint.Hit("create-dir")
	if err := m.reserveName(c, o.Name == ""); err != nil {
		return nil, err
	}
	named = true
	crashpoint.Hit("create-name")
	// The record names the anonymous volumes before they are made, so
	// that the reaper of a killed create knows which to remove.
	anon = m.planVolumes(c, specs)
	// An --rm container's record is not synced, nor is the directory
	// renamed into place: a container that would not outlive its process
	// need not outlive a crash of the host, after which it is gone, or
	// left without a record, which the listing removes (see
	// reapRecordless). A killed berth loses nothing either way.
	durable := !o.AutoRemove
	if !durable {
		if err := os.WriteFile(filepath.Join(tmp, unsyncedFile), nil, 0o600); err != nil {
			return nil, err
		}
	}
	if err := m.write(c, durable); err != nil {
		return nil, err
	}
	crashpoint.Hit("create-record")
	// Volumes are made, and the container put in place, under the
	// volume store's lock, so a volume prune cannot remove a volume this
	// container is taking.
	unlock, err := m.volumes.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := m.makeVolumes(c); err != nil {
		return nil, err
	}
	crashpoint.Hit("create-volumes")
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("create container %s: %w", c.ShortID(), err)
	}
	c.dir = final
	if !durable {
		return c, nil
	}
	// The container exists from here on, whatever happens; a sync that
	// fails only weakens the promise across a power cut.
	if err := syncDir(m.dir); err != nil {
		slog.Warn("containers directory not synced", "err", err)
	}
	return c, nil
}

// makeDir makes the directory of container id under a temporary name,
// with its lock taken: it is made as .mk-<id>.<pid>.<start> (see mkName) and renamed to .new-<id>
// once locked, so that a .new- directory with a free lock is always one
// whose creator died.
func (m *Manager) makeDir(id string) (string, *os.File, error) {
	mk := filepath.Join(m.dir, mkName(id))
	if err := os.Mkdir(mk, 0o710); err != nil {
		return "", nil, fmt.Errorf("create container directory: %w", err)
	}
	f, err := m.makeDirLocked(mk)
	if err != nil {
		os.RemoveAll(mk)
		return "", nil, err
	}
	tmp := filepath.Join(m.dir, newPrefix+id)
	if err := os.Rename(mk, tmp); err != nil {
		f.Close()
		os.RemoveAll(mk)
		return "", nil, fmt.Errorf("create container directory: %w", err)
	}
	return tmp, f, nil
}

func (m *Manager) makeDirLocked(dir string) (*os.File, error) {
	for _, d := range []string{"rootfs", "upper", "work", "mounts"} {
		mode := os.FileMode(0o700)
		if d == "upper" {
			mode = 0o755 // overlayfs gives the container's / the upper dir's mode
		}
		if err := os.Mkdir(filepath.Join(dir, d), mode); err != nil {
			return nil, fmt.Errorf("create container directory: %w", err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create container directory: %w", err)
	}
	// Nobody else knows the directory yet: this never waits.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock new container: %w", err)
	}
	return f, nil
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// newContainer merges the options with the image config and checks them.
func (m *Manager) newContainer(o CreateOptions) (*Container, []VolumeSpec, error) {
	img := o.ImageConfig
	if img == nil {
		img = &image.ContainerConfig{}
	}
	if o.Name != "" {
		if err := names.Check(o.Name); err != nil {
			return nil, nil, err
		}
	}
	network, seccomp, err := checkHost(o)
	if err != nil {
		return nil, nil, err
	}
	cfg, argv, err := configOf(o, img)
	if err != nil {
		return nil, nil, err
	}
	if cfg.ExposedPorts, err = exposedPorts(o, img); err != nil {
		return nil, nil, err
	}
	specs, err := volumeSpecs(o.Volumes)
	if err != nil {
		return nil, nil, err
	}
	for p := range img.Volumes {
		cfg.Volumes = append(cfg.Volumes, p)
	}
	sort.Strings(cfg.Volumes)

	id := o.ID
	if id == "" {
		id = names.ID()
	} else if !validID(id) {
		return nil, nil, errdefs.Newf(errdefs.ErrInvalid, "invalid container ID %q: want 64 hex digits", id)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	if network == "host" {
		if h, err := os.Hostname(); err == nil && o.Hostname == "" {
			cfg.Hostname = h
		}
	}
	c := &Container{
		ID:      id,
		Name:    o.Name,
		Created: time.Now().UTC(),
		Image:   o.Image,
		ImageID: o.ImageID,
		Path:    argv[0],
		Args:    argv[1:],
		Config:  cfg,
		HostConfig: HostConfig{
			AutoRemove:      o.AutoRemove,
			NetworkMode:     network,
			PortBindings:    o.Publish,
			PublishAllPorts: o.PublishAll,
			ReadonlyRootfs:  o.ReadOnly,
			Memory:          o.Memory,
			NanoCPUs:        int64(o.CPUs * 1e9),
			SecurityOpt:     o.SecurityOpt,
			SeccompProfile:  seccomp,
		},
		Layers: o.Layers,
		State:  State{Status: StatusCreated},
	}
	return c, specs, nil
}

// checkHost checks the host settings: the network (returned as recorded),
// the limits, and the security options (a custom seccomp profile is
// returned to be recorded).
func checkHost(o CreateOptions) (network, seccomp string, err error) {
	network = o.Network
	switch network {
	case "", "default", "bridge":
		network = "bridge"
	case "none", "host":
	default:
		return "", "", errdefs.Newf(errdefs.ErrNotFound, "network %s not found", o.Network)
	}
	if o.Memory != 0 && o.Memory < minMemory {
		return "", "", errdefs.Newf(errdefs.ErrInvalid, "Minimum memory limit allowed is 6MB")
	}
	if o.CPUs < 0 || o.CPUs > float64(goruntime.NumCPU()) || (o.CPUs > 0 && o.CPUs < 0.01) {
		return "", "", errdefs.Newf(errdefs.ErrInvalid, "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", goruntime.NumCPU(), goruntime.NumCPU())
	}
	sec, err := spec.ParseSecurityOpts(o.SecurityOpt)
	if err != nil {
		return "", "", err
	}
	if sec.Seccomp != "" && sec.Seccomp != "unconfined" {
		if _, err := spec.ParseSeccompProfile([]byte(sec.Seccomp), spec.DefaultCapabilities()); err != nil {
			return "", "", err
		}
		seccomp = sec.Seccomp
	}
	return network, seccomp, nil
}

// configOf merges the options with the image's config as Docker does and
// returns the command line, argv.
func configOf(o CreateOptions, img *image.ContainerConfig) (Config, []string, error) {
	cfg := Config{
		User:       firstNonEmpty(o.User, img.User),
		Env:        spec.MergeImageEnv(o.Env, img.Env),
		WorkingDir: firstNonEmpty(o.WorkingDir, img.WorkingDir),
		Tty:        o.Tty,
		OpenStdin:  o.OpenStdin,
		StdinOnce:  o.StdinOnce,
		StopSignal: firstNonEmpty(o.StopSignal, img.StopSignal),
		Labels:     map[string]string{},
		Hostname:   o.Hostname,
	}
	maps.Copy(cfg.Labels, img.Labels)
	maps.Copy(cfg.Labels, o.Labels)
	if img.StopTimeout != nil {
		t := *img.StopTimeout
		cfg.StopTimeout = &t
	}
	if cfg.WorkingDir != "" {
		if err := spec.CheckWorkDir(cfg.WorkingDir); err != nil {
			return cfg, nil, err
		}
	}
	// Docker's rule: a new entrypoint drops the image's command too.
	cfg.Entrypoint, cfg.Cmd = img.Entrypoint, img.Cmd
	if o.Entrypoint != nil {
		cfg.Entrypoint, cfg.Cmd = o.Entrypoint, nil
	}
	if len(o.Cmd) > 0 {
		cfg.Cmd = o.Cmd
	}
	argv := append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
	if len(argv) == 0 {
		return cfg, nil, errdefs.Newf(errdefs.ErrInvalid, "no command specified")
	}
	if _, _, err := signalOf(cfg.StopSignal); err != nil {
		return cfg, nil, err
	}
	return cfg, argv, nil
}

// exposedPorts are the image's, --expose's and the published ports,
// checked, "/tcp" added where no protocol is given, sorted.
func exposedPorts(o CreateOptions, img *image.ContainerConfig) ([]string, error) {
	exposed := map[string]bool{}
	for p := range img.ExposedPorts {
		exposed[p] = true
	}
	for _, p := range o.Expose {
		exposed[p] = true
	}
	for _, b := range o.Publish {
		exposed[fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto)] = true
	}
	for p := range exposed {
		if _, _, err := portproxy.ParseExposed(p); err != nil {
			return nil, err
		}
		if !strings.Contains(p, "/") {
			delete(exposed, p)
			exposed[p+"/tcp"] = true
		}
	}
	return slices.Sorted(maps.Keys(exposed)), nil
}

// volumeSpecs parses -v values; two at one place are an error.
func volumeSpecs(vols []string) ([]VolumeSpec, error) {
	var specs []VolumeSpec
	dests := map[string]bool{}
	for _, v := range vols {
		vs, err := ParseVolume(v)
		if err != nil {
			return nil, err
		}
		if dests[vs.Destination] {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "Duplicate mount point: %s", vs.Destination)
		}
		dests[vs.Destination] = true
		specs = append(specs, vs)
	}
	return specs, nil
}

func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// reserveName takes the container's name, generating one if asked.
func (m *Manager) reserveName(c *Container, generate bool) error {
	for retry := 0; ; retry++ {
		if generate {
			c.Name = names.Random(retry)
		}
		c.Name = strings.TrimPrefix(c.Name, "/")
		err := os.Symlink(c.ID, filepath.Join(m.dir, namesDir, c.Name))
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("reserve name: %w", err)
		}
		// The name may belong to a container that is gone (a crash
		// between removing the directory and the name, or a create killed
		// before it finished).
		if owner, rerr := os.Readlink(filepath.Join(m.dir, namesDir, c.Name)); rerr == nil {
			if !m.exists(owner) {
				m.releaseName(c.Name, owner)
				continue
			}
			if !generate {
				return errdefs.Newf(errdefs.ErrConflict, "Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name", c.Name, owner)
			}
		}
		if retry > 10 {
			return errdefs.Newf(errdefs.ErrConflict, "no free container name")
		}
	}
}

// releaseName frees name if it still points at id.
func (m *Manager) releaseName(name, id string) {
	link := filepath.Join(m.dir, namesDir, name)
	if owner, err := os.Readlink(link); err == nil && owner == id {
		os.Remove(link)
	}
}

// planVolumes turns the -v specs and the image's VOLUMEs into c's mount
// points: the volumes named, and a new anonymous volume for each bare -v
// and each image VOLUME no -v covers. It returns the anonymous volumes'
// names; makeVolumes makes the volumes.
func (m *Manager) planVolumes(c *Container, specs []VolumeSpec) []string {
	var anon []string
	seen := map[string]bool{}
	add := func(mp MountPoint) {
		if mp.Type == "volume" {
			if mp.Name == "" {
				mp.Name, mp.Anonymous = names.ID(), true
				anon = append(anon, mp.Name)
			}
			mp.Source = m.volumes.Mountpoint(mp.Name)
		}
		c.Mounts = append(c.Mounts, mp)
	}
	for _, s := range specs {
		seen[s.Destination] = true
		mp := MountPoint{Destination: s.Destination, RW: !s.ReadOnly, NoCopy: s.NoCopy, Type: "volume", Name: s.Source}
		if s.Bind() {
			mp.Type, mp.Name, mp.Source = "bind", "", filepath.Clean(s.Source)
		}
		add(mp)
	}
	for _, dest := range c.Config.Volumes {
		dest = filepath.Clean(dest)
		if seen[dest] {
			continue
		}
		seen[dest] = true
		add(MountPoint{Type: "volume", Destination: dest, RW: true})
	}
	return anon
}

// makeVolumes makes the volumes c's mount points name that do not exist
// yet; the caller holds the volume store's lock.
func (m *Manager) makeVolumes(c *Container) error {
	for _, mp := range c.Mounts {
		if mp.Type != "volume" {
			continue
		}
		var labels map[string]string
		if mp.Anonymous {
			labels = map[string]string{volume.AnonymousLabel: ""}
		}
		v, err := m.volumes.Create(mp.Name, labels)
		if err != nil {
			return err
		}
		if v.Mountpoint != mp.Source {
			return fmt.Errorf("volume %s is at %s, not %s", v.Name, v.Mountpoint, mp.Source)
		}
	}
	return nil
}
