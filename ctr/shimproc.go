package ctr

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr/crashpoint"
	"github.com/berth-dev/berth/ctr/shim"
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

// shimProcess is a shim started before the container is set up: the new
// process's runtime comes up while berth mounts and configures, and the
// configuration follows on the control socket (the shim's only descriptor
// besides stdio), with the descriptors the shim takes over.
type shimProcess struct {
	ctl *net.UnixConn
}

// startShim starts a shim for c that waits for its configuration.
func (m *Manager) startShim(c *Container) (*shimProcess, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	local, remote := os.NewFile(uintptr(fds[0]), "control"), os.NewFile(uintptr(fds[1]), "control-shim")
	defer remote.Close()
	conn, err := net.FileConn(local)
	local.Close()
	if err != nil {
		remote.Close()
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		conn.Close()
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(m.opts.Shim[0], m.opts.Shim[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, m.opts.ShimEnv...)
	cmd.Stderr = logf
	cmd.ExtraFiles = []*os.File{remote}
	// Its own session: the terminal's signals are not for it, and it
	// outlives the command that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	// Reaped here in case this process lives on (tests, a dashboard).
	go func() { _ = cmd.Wait() }()
	return &shimProcess{ctl: conn.(*net.UnixConn)}, nil
}

// abort makes a waiting shim exit without doing anything.
func (p *shimProcess) abort() { p.ctl.Close() }

// maxFdsPerMessage stays under the kernel's SCM_MAX_FD (253).
const maxFdsPerMessage = 250

// configure sends the configuration, then the descriptors in order.
func (p *shimProcess) configure(cfg *shimStart, files []*os.File) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	if _, err := p.ctl.Write(append(msg, b...)); err != nil {
		return fmt.Errorf("configure shim: %w", err)
	}
	for len(files) > 0 {
		n := min(len(files), maxFdsPerMessage)
		fds := make([]int, n)
		for i, f := range files[:n] {
			fds[i] = int(f.Fd())
		}
		if _, _, err := p.ctl.WriteMsgUnix([]byte{'F'}, unix.UnixRights(fds...), nil); err != nil {
			return fmt.Errorf("configure shim: %w", err)
		}
		files = files[n:]
	}
	return nil
}

// receiveStart is the shim's side of configure.
func receiveStart(ctl *net.UnixConn) (*shimStart, []*os.File, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(ctl, hdr[:]); err != nil {
		return nil, nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(ctl, b); err != nil {
		return nil, nil, err
	}
	var cfg shimStart
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, nil, err
	}
	want := 1 + len(cfg.Shim.Ports) // the container's lock, the ports
	if cfg.Shim.Attached {
		want++
	}
	var files []*os.File
	for len(files) < want {
		n := min(want-len(files), maxFdsPerMessage)
		oob := make([]byte, unix.CmsgSpace(4*n))
		_, oobn, _, _, err := ctl.ReadMsgUnix(make([]byte, 1), oob)
		if err != nil {
			return nil, nil, err
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return nil, nil, errors.New("bad descriptors message")
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil {
			return nil, nil, err
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "shim-fd"))
		}
	}
	return &cfg, files, nil
}

// run hands the prepared container to its shim and waits until it runs or
// has failed to. lock holds the container's lock, which the shim holds too
// until the container runs (see start); ports are the published ports'
// sockets; with st the caller is attached from the start.
func (m *Manager) run(p *shimProcess, c *Container, lock *os.File, ports []*os.File, st *Streams) (*Session, error) {
	defer p.ctl.Close()
	target := ""
	if ep := c.NetworkSettings.Endpoint; ep != nil {
		target = ep.IP.String()
	}
	cfg := &shimStart{
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
	var local *os.File
	files := append([]*os.File{lock}, ports...)
	if st != nil {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		local = os.NewFile(uintptr(fds[0]), "attach")
		remote := os.NewFile(uintptr(fds[1]), "attach-shim")
		defer remote.Close()
		files = append([]*os.File{lock, remote}, ports...)
	}
	err := p.configure(cfg, files)
	if err == nil {
		crashpoint.Hit("start-configured")
	}
	for _, f := range ports {
		f.Close()
	}
	if err != nil {
		if local != nil {
			local.Close()
		}
		return nil, err
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
	if err := json.NewDecoder(p.ctl).Decode(&ready); err != nil {
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
	e := r.Kind.Err(r.Error)
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
	f := os.NewFile(3, "control")
	unix.CloseOnExec(3)
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shim: control socket:", err)
		return 2
	}
	ctl := fc.(*net.UnixConn)
	cfg, files, err := receiveStart(ctl)
	if errors.Is(err, io.EOF) {
		// The starter gave up before the container was ready to run.
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shim: read configuration:", err)
		return 2
	}
	// The starter's hold on the container's lock: kept until the
	// container is recorded as running, or has failed to start, so that a
	// starter killed meanwhile leaves the container to this shim alone.
	held := files[0]
	release := sync.OnceFunc(func() { held.Close() })
	defer release()
	files = files[1:]
	var first net.Conn
	ports := files
	if cfg.Shim.Attached {
		c, err := net.FileConn(files[0])
		files[0].Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "shim: attach:", err)
			return 2
		}
		first, ports = c, files[1:]
	}
	ready := ctl
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
			crashpoint.Hit("shim-started")
			// The starter and this shim hold the container's lock. Not
			// synced: after a crash no container runs anyway.
			err := m.write(c, false)
			// Let go before anything else can happen: Exited takes the
			// lock anew.
			release()
			return err
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
// the record is final and nothing is mounted; the slower cleanup (the
// network, runc's state, an --rm container's files and volumes) follows,
// still under the lock, so a new start or a removal waits for it. The
// record keeps the network endpoint until it is given back, so that a
// crash in between leaves it to the next teardown (or, for an --rm
// container, to the listing that finishes its removal).
func (m *Manager) exited(ctx context.Context, id string, code int, at time.Time, notify func()) error {
	unlock, err := m.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := m.load(id)
	if err != nil {
		return err
	}
	var errs []error
	if err := m.unmount(c); err != nil {
		errs = append(errs, err)
	}
	c.State = State{Status: StatusExited, ExitCode: code, StartedAt: c.State.StartedAt, FinishedAt: at.UTC()}
	var gone string
	if c.HostConfig.AutoRemove && len(errs) == 0 {
		// --rm removes the anonymous volumes too, as Docker's does.
		err := markRemoveVolumes(c.dir)
		if err == nil {
			gone, err = m.unlink(c)
		}
		if err != nil {
			errs = append(errs, err)
		}
		crashpoint.Hit("exited-unlinked")
	}
	if gone == "" {
		if err := m.save(c); err != nil {
			errs = append(errs, err)
		}
	}
	notify()
	if c.NetworkSettings.Endpoint != nil {
		if err := m.disconnect(ctx, c); err != nil {
			errs = append(errs, err)
		} else if gone == "" {
			errs = append(errs, m.write(c, false))
		}
	}
	if err := m.runc.Delete(ctx, c.ID, true); err != nil {
		errs = append(errs, err)
	}
	if gone != "" {
		errs = append(errs, m.finishRemoval(ctx, c, gone, removeVolumes))
	}
	return errors.Join(errs...)
}
