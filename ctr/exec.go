package ctr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/berth-dev/berth/ctr/logs"
	"github.com/berth-dev/berth/ctr/shim"
	"github.com/berth-dev/berth/ctr/spec"
	"github.com/berth-dev/berth/errdefs"
)

// ExecOptions are exec's flags.
type ExecOptions struct {
	Cmd []string
	// Env adds to the container's environment.
	Env []string
	// User and WorkingDir default to the container's.
	User       string
	WorkingDir string
	Tty        bool
	// Detach starts the process and returns at once (exec -d).
	Detach bool
}

// Exec starts a process in a running container. Unless Detach is set, st
// is attached to it and the Session's Wait returns its exit code; a
// missing command is ErrCommandNotFound, one that cannot run
// ErrCommandNotExecutable.
func (m *Manager) Exec(ctx context.Context, ref string, o ExecOptions, st Streams) (*Session, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, notRunning(c)
	}
	if len(o.Cmd) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "no command specified")
	}
	// The container's root as its first process sees it, volumes and all.
	root := filepath.Join("/proc", strconv.Itoa(c.State.Pid), "root")
	userSpec := o.User
	if userSpec == "" {
		userSpec = c.Config.User
	}
	user, err := spec.ResolveUser(root, userSpec)
	if err != nil {
		return nil, err
	}
	cwd := o.WorkingDir
	if cwd == "" {
		cwd = c.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if cwd, err = spec.ResolveWorkDir(root, cwd, false); err != nil {
		return nil, err
	}
	sec, _, err := security(c)
	if err != nil {
		return nil, err
	}
	p, err := spec.Process(spec.ProcessOptions{
		Args:            o.Cmd,
		Env:             spec.ProcessEnv(c.Config.Hostname, o.Tty, c.Config.Env, o.Env),
		Cwd:             cwd,
		User:            user,
		Terminal:        o.Tty,
		NoNewPrivileges: sec.NoNewPrivileges,
	})
	if err != nil {
		return nil, err
	}
	s, err := shim.Exec(ctx, c.dir, p, o.Detach, st)
	if errors.Is(err, shim.ErrNotRunning) {
		return nil, notRunning(c)
	}
	if err != nil {
		if errors.Is(err, ErrCommandNotFound) || errors.Is(err, ErrCommandNotExecutable) {
			return nil, fmt.Errorf("OCI runtime exec failed: %w", err)
		}
		return nil, err
	}
	return s, nil
}

// Attach attaches st to a running container's first process.
func (m *Manager) Attach(ctx context.Context, ref string, st Streams) (*Session, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, errdefs.Newf(errdefs.ErrConflict, "You cannot attach to a stopped container, start it first")
	}
	return shim.Attach(ctx, c.dir, st)
}

// LogsOptions are logs' flags.
type LogsOptions = logs.ReadOptions

// Logs prints what the container wrote, stdout to stdout and stderr to
// stderr; with Follow it goes on until the container stops or ctx ends.
func (m *Manager) Logs(ctx context.Context, ref string, o LogsOptions, stdout, stderr io.Writer) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	running := func() bool {
		cur, err := m.Get(ctx, c.ID)
		return err == nil && cur.State.Running
	}
	return logs.Read(ctx, c.LogPath, o, stdout, stderr, running)
}
