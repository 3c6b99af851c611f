package ctr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/ctr/crashpoint"
	"github.com/berth-dev/berth/ctr/network"
	"github.com/berth-dev/berth/ctr/portproxy"
	"github.com/berth-dev/berth/ctr/rootfs"
	"github.com/berth-dev/berth/ctr/runc"
	"github.com/berth-dev/berth/ctr/shim"
	"github.com/berth-dev/berth/ctr/spec"
	"github.com/berth-dev/berth/ctr/volume"
)

// Streams connect a caller to a container's process (see shim.Streams).
type Streams = shim.Streams

// Session is a caller attached to a process in a container: its output
// flows to the Streams until Wait returns the exit code.
type Session = shim.Session

// DefaultDetachKeys are Docker's: ctrl-p, ctrl-q.
var DefaultDetachKeys = []byte{0x10, 0x11}

// Errors to tell apart, for exit codes as Docker's.
var (
	// ErrCommandNotFound: the command does not exist (exit code 127);
	// errdefs.ErrCommandNotFound.
	ErrCommandNotFound = runc.ErrNotFound
	// ErrCommandNotExecutable: the command cannot be run (exit code 126);
	// errdefs.ErrCommandNotExecutable.
	ErrCommandNotExecutable = runc.ErrPermission
	// ErrNotRunning: the container is not running.
	ErrNotRunning = shim.ErrNotRunning
	// ErrDetached: the session ended with the detach keys.
	ErrDetached = shim.ErrDetached
)

// Start starts the container. With st, the caller is attached from the
// very first byte of output (docker run, start -a); the returned Session
// then runs until the container exits. Without st, Start returns once the
// container runs and the Session is nil. Starting a running container only
// attaches.
func (m *Manager) Start(ctx context.Context, ref string, st *Streams) (*Session, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	lock, err := m.lockFile(c.ID)
	if err != nil {
		return nil, err
	}
	if c, err = m.load(c.ID); err != nil {
		lock.Close()
		return nil, err
	}
	if c.State.Running {
		lock.Close()
		if st == nil {
			return nil, nil
		}
		return shim.Attach(ctx, c.dir, *st)
	}
	sess, err := m.start(ctx, c, st, lock)
	lock.Close()
	if err != nil && c.HostConfig.AutoRemove {
		_ = m.remove(context.WithoutCancel(ctx), c.ID, removeVolumes)
	}
	return sess, err
}

// start runs the container; the caller holds its lock, in lock, which
// goes to the shim with the configuration: if this process is killed after
// handing the container over, the shim holds the lock until it has
// recorded the container as running, and no reaper tears it down first.
func (m *Manager) start(ctx context.Context, c *Container, st *Streams, lock *os.File) (*Session, error) {
	// The shim starts first and comes up while the container is set up.
	p, err := m.startShim(c)
	if err == nil {
		crashpoint.Hit("start-shim")
		var ports []*os.File
		if ports, err = m.prepare(ctx, c); err != nil {
			p.abort()
		} else {
			crashpoint.Hit("start-prepared")
			var sess *Session
			if sess, err = m.run(p, c, lock, ports, st); err == nil {
				return sess, nil
			}
		}
	}
	// Record why, with Docker's exit codes, and undo what was set up.
	_ = m.teardown(context.WithoutCancel(ctx), c)
	c.State.Error = err.Error()
	switch {
	case errors.Is(err, ErrCommandNotFound):
		c.State.ExitCode = 127
	case errors.Is(err, ErrCommandNotExecutable):
		c.State.ExitCode = 126
	default:
		c.State.ExitCode = 128
	}
	if serr := m.save(c); serr != nil {
		return nil, errors.Join(err, serr)
	}
	return nil, err
}

// overlay is the container's root filesystem. An --rm container's is
// volatile: its writable layer goes when it exits, and with the container
// after a crash (reconcile removes it), so it need not be synced, and its
// unmount, the first step of its teardown, is spared a sync of the whole
// host filesystem its directory is on.
func (m *Manager) overlay(c *Container) rootfs.Overlay {
	lower := c.Layers
	if len(lower) == 0 {
		lower = []string{filepath.Join(c.dir, "empty")}
	}
	return rootfs.Overlay{
		Lower:    lower,
		Upper:    filepath.Join(c.dir, "upper"),
		Work:     filepath.Join(c.dir, "work"),
		LinkDir:  filepath.Join(m.opts.RunDir, "l", c.ID[:12]),
		Volatile: c.HostConfig.AutoRemove,
	}
}

// prepare sets up what runc needs: the root filesystem, the network, the
// /etc files, the mounts and the config; it returns the sockets of the
// published ports. On error the caller tears down.
func (m *Manager) prepare(ctx context.Context, c *Container) ([]*os.File, error) {
	// A starter that died midway may have left mounts or a network
	// behind without recording them.
	if err := m.unmount(c); err != nil {
		return nil, err
	}
	if err := m.net.Scrub(ctx, c.ID); err != nil {
		return nil, err
	}
	if len(c.Layers) == 0 {
		if err := os.MkdirAll(filepath.Join(c.dir, "empty"), 0o755); err != nil {
			return nil, err
		}
	}
	root := filepath.Join(c.dir, "rootfs")
	if err := m.overlay(c).Mount(root); err != nil {
		return nil, fmt.Errorf("mount root filesystem: %w", err)
	}
	mode := c.HostConfig.NetworkMode
	if mode == "bridge" {
		ep, err := m.net.Attach(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("connect to network: %w", err)
		}
		c.NetworkSettings.Endpoint = ep
	}
	etc, err := network.WriteEtcFiles(c.dir, c.Config.Hostname, c.NetworkSettings.Endpoint, mode == "host")
	if err != nil {
		return nil, err
	}
	mounts, err := mountsOf(c, root, etc)
	if err != nil {
		return nil, err
	}
	if err := writeConfig(c, root, mounts); err != nil {
		return nil, err
	}
	if mode != "bridge" {
		return nil, nil // Docker publishes nothing without a network of its own
	}
	files, mappings, err := portproxy.Bind(m.bindings(c))
	if err != nil {
		return nil, err
	}
	c.NetworkSettings.Ports = mappings
	return files, nil
}

// mountsOf are the container's mounts for runc: its /etc files, its
// binds (staged) and its volumes (filled from the image at first start).
func mountsOf(c *Container, root string, etc network.EtcFiles) ([]specs.Mount, error) {
	bind := func(dst, src string, ro bool) specs.Mount {
		opts := []string{"rbind", "rprivate"}
		if ro {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
	}
	mounts := []specs.Mount{
		bind("/etc/hosts", etc.Hosts, false),
		bind("/etc/hostname", etc.Hostname, false),
		bind("/etc/resolv.conf", etc.ResolvConf, false),
	}
	firstStart := c.State.StartedAt.IsZero()
	for i, mp := range c.Mounts {
		src := mp.Source
		if mp.Type == "bind" {
			src = filepath.Join(c.dir, "mounts", strconv.Itoa(i))
			if _, err := stageBind(mp.Source, src); err != nil {
				return nil, err
			}
		} else if firstStart && !mp.NoCopy {
			if err := copyUp(root, mp); err != nil {
				return nil, err
			}
		}
		mounts = append(mounts, bind(mp.Destination, src, !mp.RW))
	}
	return mounts, nil
}

// writeConfig writes the OCI runtime config of the container's first
// process, resolving its user and directory in the mounted root.
func writeConfig(c *Container, root string, mounts []specs.Mount) error {
	mode := c.HostConfig.NetworkMode
	user, err := spec.ResolveUser(root, c.Config.User)
	if err != nil {
		return err
	}
	cwd := c.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if cwd, err = spec.ResolveWorkDir(root, cwd, true); err != nil {
		return err
	}
	sec, filter, err := security(c)
	if err != nil {
		return err
	}
	s, err := spec.Generate(spec.Options{
		ID: c.ID,
		Process: spec.ProcessOptions{
			Args:            append([]string{c.Path}, c.Args...),
			Env:             spec.ProcessEnv(c.Config.Hostname, c.Config.Tty, c.Config.Env),
			Cwd:             cwd,
			User:            user,
			Terminal:        c.Config.Tty,
			NoNewPrivileges: sec.NoNewPrivileges,
			Seccomp:         filter,
		},
		Hostname:    c.Config.Hostname,
		ReadOnly:    c.HostConfig.ReadonlyRootfs,
		Mounts:      mounts,
		NetNS:       endpointNS(c.NetworkSettings.Endpoint),
		HostNetwork: mode == "host",
		Memory:      c.HostConfig.Memory,
		CPUs:        float64(c.HostConfig.NanoCPUs) / 1e9,
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	// Written anew at every start: no need to survive a crash.
	if err := os.WriteFile(filepath.Join(c.dir, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("write runtime config: %w", err)
	}
	return nil
}

func endpointNS(ep *network.Endpoint) string {
	if ep == nil {
		return ""
	}
	return ep.NetNS
}

// bindings are the ports to publish: -p, and with -P every exposed port
// not published otherwise.
func (m *Manager) bindings(c *Container) []portproxy.Binding {
	out := append([]portproxy.Binding(nil), c.HostConfig.PortBindings...)
	if !c.HostConfig.PublishAllPorts {
		return out
	}
	bound := map[string]bool{}
	for _, b := range out {
		bound[fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto)] = true
	}
	for _, p := range c.Config.ExposedPorts {
		if bound[p] {
			continue
		}
		port, proto, err := portproxy.ParseExposed(p)
		if err == nil {
			out = append(out, portproxy.Binding{ContainerPort: port, Proto: proto})
		}
	}
	return out
}

// security is the container's --security-opt; a seccomp profile file's
// content was read at create time and is kept in the record.
func security(c *Container) (spec.Security, *specs.LinuxSeccomp, error) {
	var opts []string
	for _, o := range c.HostConfig.SecurityOpt {
		k, v, _ := strings.Cut(strings.Replace(o, ":", "=", 1), "=")
		if k == "seccomp" && v != "unconfined" {
			continue
		}
		opts = append(opts, o)
	}
	sec, err := spec.ParseSecurityOpts(opts)
	if err != nil {
		return sec, nil, err
	}
	if c.HostConfig.SeccompProfile != "" {
		sec.Seccomp = c.HostConfig.SeccompProfile
	}
	filter, err := sec.SeccompFilter()
	return sec, filter, err
}

// copyUp fills a new, empty volume with what the image has where it is
// mounted, as Docker does.
func copyUp(root string, mp MountPoint) error {
	empty, err := volume.Empty(mp.Source)
	if err != nil || !empty {
		return err
	}
	src, err := securejoin.SecureJoin(root, mp.Destination)
	if err != nil {
		return err
	}
	if err := volume.CopyUp(src, mp.Source); err != nil {
		return fmt.Errorf("fill volume %s from the image: %w", mp.Name, err)
	}
	return nil
}

// teardown undoes prepare and whatever runc left: it tolerates what is
// already gone (after a crash or a reboot) and leaves nothing mounted
// under the container's directory.
func (m *Manager) teardown(ctx context.Context, c *Container) error {
	// Scrub: a start killed between attaching and recording it left a
	// network the record does not name.
	err := errors.Join(m.unmount(c), m.disconnect(ctx, c), m.net.Scrub(ctx, c.ID))
	// runc keeps a stopped container's state until it is deleted.
	if _, serr := os.Stat(filepath.Join(m.runc.Root, c.ID)); serr == nil {
		err = errors.Join(err, m.runc.Delete(ctx, c.ID, true))
	}
	return err
}

// unmount unmounts the container's root filesystem and binds. The
// container's processes must be gone.
func (m *Manager) unmount(c *Container) error {
	var errs []error
	if err := unmountAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	if err := m.overlay(c).Unmount(filepath.Join(c.dir, "rootfs")); err != nil {
		errs = append(errs, err)
	}
	if entries, err := os.ReadDir(filepath.Join(c.dir, "mounts")); err == nil && len(errs) == 0 {
		for _, e := range entries {
			_ = os.Remove(filepath.Join(c.dir, "mounts", e.Name()))
		}
	}
	c.NetworkSettings.Ports = nil
	return errors.Join(errs...)
}

// disconnect gives back the container's network namespace and address.
func (m *Manager) disconnect(ctx context.Context, c *Container) error {
	err := m.net.Detach(ctx, c.ID, c.NetworkSettings.Endpoint)
	c.NetworkSettings = NetworkSettings{}
	return err
}
