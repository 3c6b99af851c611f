package shim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Request opens a connection to the shim.
type Request struct {
	Op string // "attach", "exec", "kill" or "wait"
	// Streams to attach (attach, exec).
	Stdin, Stdout, Stderr bool `json:",omitempty"`
	// Process to start (exec); Detach leaves it running unattached.
	Process *specs.Process `json:",omitempty"`
	Detach  bool           `json:",omitempty"`
	// Signal to send (kill).
	Signal int `json:",omitempty"`
}

// Response answers a request.
type Response struct {
	Error    string `json:",omitempty"`
	Kind     Kind   `json:",omitempty"`
	Pid      int    `json:",omitempty"`
	ExitCode int    `json:",omitempty"` // wait
}

func (s *server) handle(c net.Conn) {
	defer c.Close()
	fc := newFrameConn(c)
	var req Request
	if err := fc.readJSON(frameRequest, &req); err != nil {
		return
	}
	switch req.Op {
	case "attach":
		s.attach(fc, req)
	case "exec":
		s.exec(fc, req)
	case "kill":
		_ = fc.writeJSON(frameResponse, s.kill(syscall.Signal(req.Signal)))
	case "wait":
		s.mu.Lock()
		closing := s.closing
		if !closing {
			s.waiters.Add(1)
			defer s.waiters.Done()
		}
		s.mu.Unlock()
		<-s.done
		_ = fc.writeJSON(frameResponse, Response{ExitCode: s.exitCode})
	default:
		_ = fc.writeJSON(frameResponse, Response{Error: fmt.Sprintf("unknown request %q", req.Op)})
	}
}

func (s *server) kill(sig syscall.Signal) Response {
	select {
	case <-s.started:
	case <-s.done:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited || s.pidfd < 0 {
		return errorResponse(ErrNotRunning)
	}
	if err := unix.PidfdSendSignal(s.pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errorResponse(ErrNotRunning)
		}
		return Response{Error: err.Error()}
	}
	return Response{}
}

// attachFirst attaches the client the container was started with, before
// the process runs, so it misses nothing.
func (s *server) attachFirst(c net.Conn) error {
	fc := newFrameConn(c)
	var req Request
	if err := fc.readJSON(frameRequest, &req); err != nil {
		c.Close()
		return fmt.Errorf("first client: %w", err)
	}
	a := &attacher{fc: fc, stdout: req.Stdout, stderr: req.Stderr}
	if err := fc.writeJSON(frameResponse, Response{}); err != nil {
		c.Close()
		return nil // gone already; run on
	}
	s.out.add(a)
	go func() {
		defer c.Close()
		s.clientInput(fc, req, a)
	}()
	return nil
}

func (s *server) attach(fc *frameConn, req Request) {
	s.mu.Lock()
	exited, code := s.exited, s.exitCode
	s.mu.Unlock()
	if exited {
		<-s.done
		_ = fc.writeJSON(frameResponse, Response{Error: ErrNotRunning.Error(), Kind: KindNotRunning, ExitCode: code})
		return
	}
	a := &attacher{fc: fc, stdout: req.Stdout, stderr: req.Stderr}
	if err := fc.writeJSON(frameResponse, Response{Pid: s.pid}); err != nil {
		return
	}
	s.out.add(a)
	s.clientInput(fc, req, a)
}

// clientInput applies what an attached client sends: stdin, the end of
// stdin, terminal sizes and signals.
func (s *server) clientInput(fc *frameConn, req Request, a *attacher) {
	defer s.out.remove(a)
	buf := make([]byte, 32*1024)
	for {
		kind, data, err := fc.read(buf)
		if err != nil {
			return
		}
		// Input may come before the process runs: hold it until then.
		select {
		case <-s.started:
		case <-s.done:
			return
		}
		switch kind {
		case frameStdin:
			if req.Stdin && s.stdin != nil {
				_, _ = s.stdin.Write(data)
			}
		case frameStdinEOF:
			if req.Stdin && s.cfg.StdinOnce && !s.cfg.Tty && s.stdin != nil {
				s.stdin.Close()
			}
		case frameResize:
			if v, err := uint32Of(data); err == nil && s.master != nil {
				_ = resize(s.master, uint16(v>>16), uint16(v))
			}
		case frameSignal:
			if v, err := uint32Of(data); err == nil {
				s.kill(syscall.Signal(v))
			}
		}
	}
}

// contextFromChan is a context that ends when stop closes.
func contextFromChan(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
