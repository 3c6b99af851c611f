package engine

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/errdefs"
)

// The container operations. Each goes through the runtime and then keeps
// the engine's records in step with what the runtime did (see the comment
// on containers): an --rm container the runtime removes, when its start
// fails or once it exits, loses its ref here, so no caller has to.

// Container finds a container by ID, ID prefix or name.
func (e *Engine) Container(ctx context.Context, ref string) (*Container, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, err
	}
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Session is a caller attached to a process in a container (start with
// streams, attach, exec): its output flows to the Streams until Wait
// returns the exit code. When the container removes itself at exit
// (--rm), Wait also forgets the engine's record of it.
type Session struct {
	*ctr.Session
	ended func()
	once  sync.Once
}

// Wait waits for the process to exit and returns its exit code;
// ErrDetached if the caller detached.
func (s *Session) Wait(ctx context.Context) (int, error) {
	code, err := s.Session.Wait(ctx)
	if s.ended != nil {
		s.once.Do(s.ended)
	}
	return code, err
}

// session wraps the runtime's session of container c.
func (e *Engine) session(ctx context.Context, c *Container, s *ctr.Session) *Session {
	if s == nil {
		return nil
	}
	out := &Session{Session: s}
	if c.HostConfig.AutoRemove {
		out.ended = func() { e.forgetIfGone(context.WithoutCancel(ctx), c) }
	}
	return out
}

// StartContainer starts a container. With st the caller is attached from
// the first byte of output and the Session runs until the container
// exits; without, it returns once the container runs, with a nil Session.
// Starting a running container only attaches.
func (e *Engine) StartContainer(ctx context.Context, ref string, st *Streams) (*Session, error) {
	m, c, err := e.runtimeContainer(ctx, ref)
	if err != nil {
		return nil, err
	}
	s, err := m.Start(ctx, c.ID, st)
	if err != nil {
		if c.HostConfig.AutoRemove {
			// The runtime removed an --rm container that failed to start.
			e.forgetIfGone(context.WithoutCancel(ctx), c)
		}
		return nil, err
	}
	return e.session(ctx, c, s), nil
}

// AttachContainer attaches st to a running container's first process.
func (e *Engine) AttachContainer(ctx context.Context, ref string, st Streams) (*Session, error) {
	m, c, err := e.runtimeContainer(ctx, ref)
	if err != nil {
		return nil, err
	}
	s, err := m.Attach(ctx, c.ID, st)
	if err != nil {
		return nil, err
	}
	return e.session(ctx, c, s), nil
}

// Exec runs a process in a running container (exec). A command that
// cannot start is errdefs.ErrCommandNotFound or ErrCommandNotExecutable.
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions, st Streams) (*Session, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, err
	}
	s, err := m.Exec(ctx, ref, o, st)
	if err != nil || s == nil {
		return nil, err
	}
	return &Session{Session: s}, nil
}

// StopContainer stops a container: its stop signal, then SIGKILL after
// timeout (nil: the container's own, else Docker's 10 seconds).
func (e *Engine) StopContainer(ctx context.Context, ref string, timeout *time.Duration) error {
	m, c, err := e.runtimeContainer(ctx, ref)
	if err != nil {
		return err
	}
	err = m.Stop(ctx, c.ID, timeout)
	e.forgetIfRemoved(ctx, c)
	return err
}

// RestartContainer stops a container as StopContainer does and starts it.
func (e *Engine) RestartContainer(ctx context.Context, ref string, timeout *time.Duration) error {
	m, err := e.runtime(ctx)
	if err != nil {
		return err
	}
	return m.Restart(ctx, ref, timeout)
}

// KillContainer sends sig to a container's first process.
func (e *Engine) KillContainer(ctx context.Context, ref string, sig syscall.Signal) error {
	m, err := e.runtime(ctx)
	if err != nil {
		return err
	}
	return m.Kill(ctx, ref, sig)
}

// WaitContainer blocks until a container is not running and returns its
// exit code.
func (e *Engine) WaitContainer(ctx context.Context, ref string) (int, error) {
	m, c, err := e.runtimeContainer(ctx, ref)
	if errdefs.IsNotFound(err) {
		// An --rm container may have gone before it was looked up, its
		// ref with no name left to find it by: bring the refs in line.
		e.syncContainersOrWarn(ctx)
	}
	if err != nil {
		return -1, err
	}
	code, err := m.Wait(ctx, c.ID)
	e.forgetIfRemoved(ctx, c)
	return code, err
}

// RenameContainer renames a container.
func (e *Engine) RenameContainer(ctx context.Context, ref, name string) error {
	m, err := e.runtime(ctx)
	if err != nil {
		return err
	}
	return m.Rename(ctx, ref, name)
}

// ContainerLogs writes what the container wrote, stdout to stdout and
// stderr to stderr; with Follow it goes on until the container stops or
// ctx ends.
func (e *Engine) ContainerLogs(ctx context.Context, ref string, o LogsOptions, stdout, stderr io.Writer) error {
	m, err := e.runtime(ctx)
	if err != nil {
		return err
	}
	return m.Logs(ctx, ref, o, stdout, stderr)
}

// runtimeContainer is the runtime and the container ref names.
func (e *Engine) runtimeContainer(ctx context.Context, ref string) (*ctr.Manager, *Container, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.Container(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	return m, c, nil
}

// forgetIfRemoved forgets an --rm container's ref once it has stopped
// and the runtime removed it.
func (e *Engine) forgetIfRemoved(ctx context.Context, c *Container) {
	if c.HostConfig.AutoRemove {
		e.forgetIfGone(context.WithoutCancel(ctx), c)
	}
}

// forgetIfGone drops the ref of a container the runtime removed by
// itself (an --rm container that exited, or failed to start), if it is
// gone; a failure only leaves the ref to the next sync.
func (e *Engine) forgetIfGone(ctx context.Context, c *Container) {
	m, err := e.runtime(ctx)
	if err != nil {
		return
	}
	if _, err := m.Get(ctx, c.ID); !errdefs.IsNotFound(err) {
		return
	}
	if err := e.forgetContainers(ctx, c); err != nil {
		slog.Warn("could not forget a removed container", "id", c.ID, "err", err)
	}
}
