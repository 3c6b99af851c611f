// Package shim is the small supervisor that runs beside each container, so
// that berth needs no daemon. The berth command starts it (berth re-executed
// as `berth shim`), detached in its own session; it starts the container
// with one `runc run --detach`, becomes the parent of the container's first
// process (it is a child subreaper), and for as long as the container runs
// it owns its stdio and pty, writes its log, serves its published ports,
// starts `exec` processes and answers clients on a unix socket in the
// container's directory: attach, exec, kill, wait. When the process exits
// the shim records the exit through its hooks, tells the clients, and ends.
package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr/logs"
	"github.com/berth-dev/berth/ctr/portproxy"
	"github.com/berth-dev/berth/ctr/runc"
)

// Config is what a shim is started with.
type Config struct {
	ID string
	// Bundle is the container's directory: config.json, rootfs, the socket.
	Bundle string
	Runc   runc.Runc
	// SocketDir is a short directory for console sockets.
	SocketDir string
	Tty       bool
	OpenStdin bool
	// StdinOnce closes the container's stdin when the attached client's
	// stdin ends (docker run -i).
	StdinOnce bool
	// LogFile is the json-file log.
	LogFile string
	// Attached says a first client is attached from the start.
	Attached bool
	// Ports are the published ports; Serve gets their sockets.
	Ports []portproxy.Mapping
	// Target is the container's address, where the ports forward to.
	Target string
}

// Hooks are the manager's part in the container's life.
type Hooks struct {
	// Started records the running container; ready is reported after it.
	Started func(pid int) error
	// Exited tears the container down and records the exit. It calls
	// notify, once, as soon as the record is final, which gives the
	// attached clients the exit code; what it does after is cleanup that
	// nobody need wait for (wait requests are answered when it returns).
	Exited func(code int, at time.Time, notify func())
}

// Ready is the shim's one message to its starter: the container runs, or
// why not.
type Ready struct {
	Pid   int    `json:",omitempty"`
	Error string `json:",omitempty"`
	Kind  Kind   `json:",omitempty"`
}

// SocketName is the shim's socket in the bundle.
const SocketName = "shim.sock"

type server struct {
	cfg    Config
	hooks  Hooks
	reaper *reaper
	out    *output

	started  chan struct{} // closed when the process runs (or never will)
	done     chan struct{} // closed after the exit is recorded
	mu       sync.Mutex
	pid      int
	pidfd    int
	stdin    *os.File // pipe to the process, or the pty master
	master   *os.File
	exited   bool
	exitCode int
	waiters  sync.WaitGroup // handlers answering wait requests
	closing  bool           // no more waiters are counted
}

// Serve runs the container and serves it until its first process exits.
// first, if not nil, is a client attached from the start; ports are the
// sockets of cfg.Ports.
func Serve(cfg Config, hooks Hooks, ready io.WriteCloser, first net.Conn, ports []*os.File) error {
	// The container's process is runc's child; when runc exits it must
	// come to us, not to init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	s := &server{
		cfg: cfg, hooks: hooks, reaper: newReaper(), pidfd: -1,
		started: make(chan struct{}), done: make(chan struct{}),
	}
	logf, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return s.fail(ready, fmt.Errorf("open log: %w", err))
	}
	defer logf.Close()
	lw := logs.NewWriter(logf)
	stdoutLog, stderrLog := lw.Stream("stdout"), lw.Stream("stderr")
	s.out = newOutput(map[byte]io.Writer{frameStdout: stdoutLog, frameStderr: stderrLog})

	l, dir, err := listen(cfg.Bundle)
	if err != nil {
		return s.fail(ready, err)
	}
	defer dir.Close()
	defer l.Close()
	go s.acceptLoop(l)
	if first != nil {
		if err := s.attachFirst(first); err != nil {
			return s.fail(ready, err)
		}
	}

	if err := s.startProcess(); err != nil {
		return s.fail(ready, err)
	}
	if err := hooks.Started(s.pid); err != nil {
		_ = unix.PidfdSendSignal(s.pidfd, unix.SIGKILL, nil, 0)
		<-s.reaper.wait(s.pid)
		return s.fail(ready, err)
	}
	close(s.started)
	_ = json.NewEncoder(ready).Encode(Ready{Pid: s.pid})
	ready.Close()

	stopPorts := make(chan struct{})
	portsDone := make(chan struct{})
	go func() {
		defer close(portsDone)
		s.servePorts(ports, stopPorts)
	}()

	code := <-s.reaper.wait(s.pid)
	close(stopPorts)
	// The last words of a process come after its exit status; wait for
	// them, though not forever: a stray process may hold the stream open.
	s.out.drain(2 * time.Second)
	stdoutLog.Close()
	stderrLog.Close()
	<-portsDone
	s.mu.Lock()
	s.exited, s.exitCode = true, code
	unix.Close(s.pidfd)
	s.mu.Unlock()
	var once sync.Once
	notify := func() { once.Do(func() { s.out.exit(code) }) }
	hooks.Exited(code, time.Now(), notify)
	notify()
	close(s.done)
	// Let the handlers answering wait requests finish before the process
	// ends.
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	waited := make(chan struct{})
	go func() { s.waiters.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(time.Second):
	}
	return nil
}

// fail reports a start failure to the starter and stops serving.
func (s *server) fail(ready io.WriteCloser, err error) error {
	r := Ready{Error: err.Error(), Kind: kindOf(err)}
	_ = json.NewEncoder(ready).Encode(r)
	ready.Close()
	s.mu.Lock()
	s.exited = true
	s.mu.Unlock()
	if s.out != nil {
		s.out.exit(-1)
	}
	return err
}

// listen opens the shim's socket. The bundle's path may be too long for a
// socket address, so it is reached through a descriptor of the directory.
func listen(bundle string) (net.Listener, *os.File, error) {
	dir, err := os.OpenFile(bundle, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open bundle: %w", err)
	}
	path := fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), SocketName)
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		dir.Close()
		return nil, nil, fmt.Errorf("listen on %s: %w", SocketName, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	return l, dir, nil
}

// startProcess runs `runc run --detach` and takes the container's first
// process as its own child.
func (s *server) startProcess() error {
	pidFile := filepath.Join(s.cfg.Bundle, "init.pid")
	logFile := filepath.Join(s.cfg.Bundle, "runc.log")
	_ = os.Remove(pidFile)
	_ = os.Remove(logFile)
	opts := runc.RunOptions{Bundle: s.cfg.Bundle, PidFile: pidFile, LogFile: logFile}

	var sock *consoleSocket
	var child []*os.File
	var stdoutR, stderrR *os.File
	if s.cfg.Tty {
		var err error
		if sock, err = newConsoleSocket(s.cfg.SocketDir); err != nil {
			return err
		}
		defer sock.close()
		opts.ConsoleSocket = sock.path
	} else {
		var err error
		var w *os.File
		if stdoutR, w, err = os.Pipe(); err != nil {
			return err
		}
		opts.IO.Stdout = w
		child = append(child, w)
		if stderrR, w, err = os.Pipe(); err != nil {
			return err
		}
		opts.IO.Stderr = w
		child = append(child, w)
		if s.cfg.OpenStdin {
			r, w, err := os.Pipe()
			if err != nil {
				return err
			}
			opts.IO.Stdin = r
			child = append(child, r)
			s.stdin = w
		}
		s.out.copy(frameStdout, stdoutR)
		s.out.copy(frameStderr, stderrR)
	}
	cmd := s.cfg.Runc.RunCommand(s.cfg.ID, opts)
	err := cmd.Start()
	for _, f := range child {
		f.Close()
	}
	if err != nil {
		s.out.discard()
		return fmt.Errorf("start runc: %w", err)
	}
	runcExit := s.reaper.wait(cmd.Process.Pid)
	_ = cmd.Process.Release()
	masterc := make(chan *os.File, 1)
	if sock != nil {
		go func() {
			m, _ := sock.receive()
			masterc <- m
		}()
	}
	if code := <-runcExit; code != 0 {
		s.out.discard()
		if err := runc.LogError(logFile); err != nil {
			return err
		}
		return fmt.Errorf("runc run exited with %d", code)
	}
	pid, err := runc.ReadPid(pidFile)
	if err != nil {
		s.out.discard()
		return err
	}
	if err := s.own(pid); err != nil {
		s.out.discard()
		return err
	}
	if sock != nil {
		m := <-masterc
		if m == nil {
			return errors.New("runc sent no terminal")
		}
		s.master, s.stdin = m, m
		s.out.copy(frameStdout, m)
	}
	s.out.start()
	return nil
}

// own takes a handle on the process that cannot be confused with a later
// one of the same pid.
func (s *server) own(pid int) error {
	s.pid = pid
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil // already exited and reaped: its status waits in the reaper
	}
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	if s.reaper.reaped(pid) {
		// Reaped before the open: the descriptor may name a newcomer.
		unix.Close(fd)
		return nil
	}
	s.pidfd = fd
	return nil
}

func (s *server) servePorts(files []*os.File, stop <-chan struct{}) {
	if len(files) == 0 {
		<-stop
		return
	}
	target, err := netip.ParseAddr(s.cfg.Target)
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		<-stop
		return
	}
	ctx, cancel := contextFromChan(stop)
	defer cancel()
	_ = portproxy.Serve(ctx, files, s.cfg.Ports, target)
}

func (s *server) acceptLoop(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}
