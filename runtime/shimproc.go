package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/runc"
	"github.com/berth-dev/berth/runtime/shim"
)

// shimStart is what a shim reads on its stdin.
type shimStart struct {
	// Dir and Options open the same Manager in the shim.
	Dir     string
	Options Options
	// Container is the record to write once the container runs.
	Container *Container
	Shim      shim.Config
}

// spawn starts the container's shim and waits until the container runs or
// has failed to. ports are the published ports' sockets, handed to the
// shim; with st the caller is attached from the start.
func (m *Manager) spawn(ctx context.Context, c *Container, ports []*os.File, st *Streams) (*Session, error) {
	defer func() {
		for _, f := range ports {
			f.Close()
		}
	}()
	target := ""
	if ep := c.NetworkSettings.Endpoint; ep != nil {
		target = ep.IP.String()
	}
	cfg := shimStart{
		Dir:       m.dir,
		Options:   m.opts,
		Container: c,
		Shim: shim.Config{
			ID:        c.ID,
			Bundle:    c.dir,
			Runc:      m.runc,
			SocketDir: filepath.Join(m.opts.RunDir, "console"),
			Tty:       c.Config.Tty,
			OpenStdin: c.Config.OpenStdin,
			StdinOnce: c.Config.StdinOnce,
			LogFile:   c.LogPath,
			Attached:  st != nil,
			Ports:     c.NetworkSettings.Ports,
			Target:    target,
		},
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		readyW.Close()
		stdinR.Close()
		stdinW.Close()
		return nil, err
	}
	var local, remote *os.File
	if st != nil {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		local, remote = os.NewFile(uintptr(fds[0]), "attach"), os.NewFile(uintptr(fds[1]), "attach-shim")
	}
	cmd := exec.Command(m.opts.Shim[0], m.opts.Shim[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, m.opts.ShimEnv...)
	cmd.Stdin, cmd.Stderr = stdinR, logf
	cmd.ExtraFiles = append([]*os.File{readyW, remote}, ports...)
	// Its own session: the terminal's signals are not for it, and it
	// outlives the command that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	for _, f := range []*os.File{readyW, stdinR, logf, remote} {
		if f != nil {
			f.Close()
		}
	}
	if err != nil {
		stdinW.Close()
		if local != nil {
			local.Close()
		}
		return nil, fmt.Errorf("start shim: %w", err)
	}
	// Reaped here in case this process lives on (tests, a dashboard).
	go func() { _ = cmd.Wait() }()
	err = json.NewEncoder(stdinW).Encode(cfg)
	stdinW.Close()
	if err != nil {
		return nil, fmt.Errorf("configure shim: %w", err)
	}

	var sess *Session
	var attachErr error
	if local != nil {
		conn, err := net.FileConn(local)
		local.Close()
		if err != nil {
			return nil, err
		}
		sess, attachErr = shim.Open(conn, shim.Request{Op: "attach", Stdin: st.Stdin != nil, Stdout: st.Stdout != nil, Stderr: st.Stderr != nil}, *st)
	}
	var ready shim.Ready
	if err := json.NewDecoder(readyR).Decode(&ready); err != nil {
		if sess != nil {
			sess.Close()
		}
		return nil, fmt.Errorf("the container's shim exited: %s", shimLogTail(c.dir))
	}
	if ready.Error != "" {
		if sess != nil {
			sess.Close()
		}
		return nil, startError(ready)
	}
	if attachErr != nil {
		return nil, fmt.Errorf("attach: %w", attachErr)
	}
	return sess, nil
}

// startError words a failed start as Docker does and keeps its kind.
func startError(r shim.Ready) error {
	e := &runc.Error{Msg: r.Error}
	switch r.Kind {
	case "notfound":
		e.Kind = runc.ErrNotFound
	case "permission":
		e.Kind = runc.ErrPermission
	}
	if strings.HasPrefix(r.Error, "runc ") {
		return fmt.Errorf("OCI runtime create failed: %w", e)
	}
	return e
}

func shimLogTail(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "shim.log"))
	b = bytes.TrimSpace(b)
	if len(b) > 500 {
		b = b[len(b)-500:]
	}
	if len(b) == 0 {
		return "no message"
	}
	return string(b)
}

// ShimMain is the shim: the hidden `berth shim` command calls it. It reads
// its configuration on stdin and returns the process's exit code.
func ShimMain(args []string) int {
	var cfg shimStart
	if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "shim: read configuration:", err)
		return 2
	}
	os.Stdin.Close()
	// Keep the inherited descriptors from any child: runc, and the
	// container after it, get only what they are given.
	for fd := shim.ReadyFd; fd < shim.PortsFd+len(cfg.Shim.Ports); fd++ {
		unix.CloseOnExec(fd)
	}
	ready := os.NewFile(shim.ReadyFd, "ready")
	var first net.Conn
	if cfg.Shim.Attached {
		f := os.NewFile(shim.AttachFd, "attach")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "shim: attach:", err)
			return 2
		}
		first = c
	}
	var ports []*os.File
	for i := range cfg.Shim.Ports {
		ports = append(ports, os.NewFile(uintptr(shim.PortsFd+i), "port"))
	}
	ctx := context.Background()
	m, err := Open(ctx, cfg.Dir, cfg.Options)
	if err != nil {
		_ = json.NewEncoder(ready).Encode(shim.Ready{Error: err.Error()})
		return 2
	}
	c := cfg.Container
	c.dir = m.containerDir(c.ID)
	hooks := shim.Hooks{
		Started: func(pid int) error {
			self := os.Getpid()
			start, _ := processStart(self)
			c.State = State{
				Status: StatusRunning, Running: true, Pid: pid, StartedAt: time.Now().UTC(),
				Shim: &ShimProcess{Pid: self, StartTime: start, BootID: m.bootID},
			}
			// The starter holds the container's lock while it waits for us.
			// Not synced: after a crash no container runs anyway.
			return m.write(c, false)
		},
		Exited: func(code int, at time.Time, notify func()) {
			if err := m.exited(ctx, c.ID, code, at, notify); err != nil {
				fmt.Fprintln(os.Stderr, "shim:", err)
			}
		},
	}
	if err := shim.Serve(cfg.Shim, hooks, ready, first, ports); err != nil {
		fmt.Fprintln(os.Stderr, "shim:", err)
		return 1
	}
	return 0
}

// exited records the end of a container's run and tears it down; an --rm
// container is removed. The attached clients are told (notify) as soon as
// the record is final and nothing is mounted; runc's own cleanup and the
// deletion of an --rm container's files follow, still under the lock, so a
// new start or a removal waits for them.
func (m *Manager) exited(ctx context.Context, id string, code int, at time.Time, notify func()) error {
	unlock, err := m.lock(id)
	if err != nil {
		return err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	c, err := m.load(id)
	if err != nil {
		return err
	}
	var errs []error
	if err := m.release(ctx, c); err != nil {
		errs = append(errs, err)
	}
	c.State = State{Status: StatusExited, ExitCode: code, StartedAt: c.State.StartedAt, FinishedAt: at.UTC()}
	var gone string
	if c.HostConfig.AutoRemove && len(errs) == 0 {
		if gone, err = m.unlink(c); err != nil {
			errs = append(errs, err)
		}
	} else if err := m.save(c); err != nil {
		errs = append(errs, err)
	}
	notify()
	if err := m.runc.Delete(ctx, c.ID, true); err != nil {
		errs = append(errs, err)
	}
	if gone != "" {
		if err := os.RemoveAll(gone); err != nil {
			errs = append(errs, err)
		}
		unlock()
		locked = false
		errs = append(errs, m.removeAnonymous(ctx, c))
	}
	return errors.Join(errs...)
}
