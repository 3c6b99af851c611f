package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Errors clients of a shim see.
var (
	// ErrNotRunning: the container (or its shim) is not running.
	ErrNotRunning = errors.New("container is not running")
	// ErrDetached: the client detached with the detach keys.
	ErrDetached = errors.New("detached")
)

// Dial connects to the shim of the container in bundle.
func Dial(ctx context.Context, bundle string) (net.Conn, error) {
	dir, err := os.OpenFile(bundle, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// Removed since it was looked up (an --rm container that
		// exited): its shim has ended.
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, fmt.Errorf("open container directory: %w", err)
	}
	defer dir.Close()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), SocketName))
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, ErrNotRunning
		}
		return nil, fmt.Errorf("connect to shim: %w", err)
	}
	return c, nil
}

func roundTrip(ctx context.Context, bundle string, req Request) (Response, error) {
	c, err := Dial(ctx, bundle)
	if err != nil {
		return Response{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	fc := newFrameConn(c)
	if err := fc.writeJSON(frameRequest, req); err != nil {
		return Response{}, err
	}
	var resp Response
	if err := fc.readJSON(frameResponse, &resp); err != nil {
		if ctx.Err() != nil {
			return Response{}, ctx.Err()
		}
		// The shim ended while we asked: the container has stopped.
		return Response{}, ErrNotRunning
	}
	return resp, resp.Kind.Err(resp.Error)
}

// Kill sends sig to the container's first process.
func Kill(ctx context.Context, bundle string, sig syscall.Signal) error {
	_, err := roundTrip(ctx, bundle, Request{Op: "kill", Signal: int(sig)})
	return err
}

// Wait blocks until the container's first process has exited and its exit
// is recorded, and returns the exit code.
func Wait(ctx context.Context, bundle string) (int, error) {
	resp, err := roundTrip(ctx, bundle, Request{Op: "wait"})
	return resp.ExitCode, err
}

// Streams connect a client's stdio to a process.
type Streams struct {
	// Stdin, if set, is copied to the process.
	Stdin io.Reader
	// Stdout and Stderr receive the output; with a terminal all of it goes
	// to Stdout.
	Stdout, Stderr io.Writer
	// DetachKeys end the session without stopping the process when typed on
	// Stdin; nil means none.
	DetachKeys []byte
}

// Attach attaches streams to the container's first process.
func Attach(ctx context.Context, bundle string, st Streams) (*Session, error) {
	c, err := Dial(ctx, bundle)
	if err != nil {
		return nil, err
	}
	return Open(c, Request{Op: "attach", Stdin: st.Stdin != nil, Stdout: st.Stdout != nil, Stderr: st.Stderr != nil}, st)
}

// Exec starts p in the container and, unless detach is set, attaches
// streams to it.
func Exec(ctx context.Context, bundle string, p *specs.Process, detach bool, st Streams) (*Session, error) {
	c, err := Dial(ctx, bundle)
	if err != nil {
		return nil, err
	}
	s, err := Open(c, Request{Op: "exec", Process: p, Detach: detach, Stdin: st.Stdin != nil, Stdout: true, Stderr: true}, st)
	if err != nil {
		return nil, err
	}
	if detach {
		s.Close()
	}
	return s, nil
}

// Session is a client attached to a process in a container.
type Session struct {
	conn net.Conn
	fc   *frameConn
	st   Streams
	// Pid is the process's pid on the host (0 when attached at start).
	Pid int

	done     chan struct{}
	once     sync.Once
	code     int
	err      error
	detached bool
	mu       sync.Mutex
}

// Open sends req on c, a connection to a shim, reads the answer and runs a
// session with streams on it. The connection belongs to the session. The
// client a container is started with opens its session this way on its end
// of the socket pair given to the shim.
func Open(c net.Conn, req Request, st Streams) (*Session, error) {
	fc := newFrameConn(c)
	if err := fc.writeJSON(frameRequest, req); err != nil {
		c.Close()
		return nil, err
	}
	s := &Session{conn: c, fc: fc, st: st, done: make(chan struct{})}
	if err := s.response(); err != nil {
		c.Close()
		return nil, err
	}
	s.run()
	return s, nil
}

func (s *Session) response() error {
	var resp Response
	if err := s.fc.readJSON(frameResponse, &resp); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrNotRunning
		}
		return err
	}
	if err := resp.Kind.Err(resp.Error); err != nil {
		return err
	}
	s.Pid = resp.Pid
	return nil
}

func (s *Session) run() {
	go s.readLoop()
	if s.st.Stdin != nil {
		go s.stdinLoop()
	}
}

func (s *Session) finish(code int, err error) {
	s.once.Do(func() {
		s.code, s.err = code, err
		close(s.done)
	})
}

func (s *Session) readLoop() {
	buf := make([]byte, 32*1024)
	for {
		kind, data, err := s.fc.read(buf)
		if err != nil {
			s.mu.Lock()
			detached := s.detached
			s.mu.Unlock()
			if detached {
				s.finish(0, ErrDetached)
			} else {
				s.finish(-1, fmt.Errorf("connection to the container's shim lost: %w", ErrNotRunning))
			}
			return
		}
		switch kind {
		case frameStdout:
			if s.st.Stdout != nil {
				_, _ = s.st.Stdout.Write(data)
			}
		case frameStderr:
			if s.st.Stderr != nil {
				_, _ = s.st.Stderr.Write(data)
			}
		case frameExit:
			v, _ := uint32Of(data)
			s.finish(int(int32(v)), nil)
			return
		}
	}
}

func (s *Session) stdinLoop() {
	buf := make([]byte, 32*1024)
	matched := 0 // bytes of the detach sequence seen so far
	keys := s.st.DetachKeys
	for {
		n, err := s.st.Stdin.Read(buf)
		if n > 0 {
			data := buf[:n]
			if len(keys) > 0 {
				var out []byte
				for _, b := range data {
					if b == keys[matched] {
						matched++
						if matched == len(keys) {
							if len(out) > 0 {
								_ = s.fc.write(frameStdin, out)
							}
							s.detach()
							return
						}
						continue
					}
					// A broken sequence is ordinary input after all.
					out = append(out, keys[:matched]...)
					matched = 0
					if b == keys[0] {
						matched = 1
						continue
					}
					out = append(out, b)
				}
				data = out
			}
			if len(data) > 0 {
				if werr := s.fc.write(frameStdin, data); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if matched > 0 {
				// Half a detach sequence before the end is input after all.
				_ = s.fc.write(frameStdin, keys[:matched])
			}
			_ = s.fc.write(frameStdinEOF, nil)
			return
		}
		select {
		case <-s.done:
			return
		default:
		}
	}
}

func (s *Session) detach() {
	s.mu.Lock()
	s.detached = true
	s.mu.Unlock()
	s.conn.Close()
}

// Resize sets the process's terminal size.
func (s *Session) Resize(height, width uint16) error {
	return s.fc.writeUint32(frameResize, uint32(height)<<16|uint32(width))
}

// Signal sends sig to the container's first process (attach sessions).
func (s *Session) Signal(sig syscall.Signal) error {
	return s.fc.writeUint32(frameSignal, uint32(sig))
}

// Wait returns the process's exit code once it has exited, ErrDetached
// after a detach, or ctx's error.
func (s *Session) Wait(ctx context.Context) (int, error) {
	select {
	case <-s.done:
		return s.code, s.err
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Close ends the session; the process runs on.
func (s *Session) Close() error {
	s.mu.Lock()
	s.detached = true
	s.mu.Unlock()
	return s.conn.Close()
}
