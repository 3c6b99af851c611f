package shim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr/runc"
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
	Kind     string `json:",omitempty"` // "notfound", "permission", "notrunning"
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
		return Response{Error: "container is not running", Kind: "notrunning"}
	}
	if err := unix.PidfdSendSignal(s.pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return Response{Error: "container is not running", Kind: "notrunning"}
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
		_ = fc.writeJSON(frameResponse, Response{Error: "container is not running", Kind: "notrunning", ExitCode: code})
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

// exec starts a process in the running container with `runc exec
// --detach`; the process becomes the shim's child, and the client is
// attached to it until it exits.
func (s *server) exec(fc *frameConn, req Request) {
	fail := func(err error) {
		r := Response{Error: err.Error()}
		switch {
		case errors.Is(err, runc.ErrNotFound):
			r.Kind = "notfound"
		case errors.Is(err, runc.ErrPermission):
			r.Kind = "permission"
		}
		_ = fc.writeJSON(frameResponse, r)
	}
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited || req.Process == nil {
		fail(errors.New("container is not running"))
		return
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	base := filepath.Join(s.cfg.Bundle, "exec-"+hex.EncodeToString(b))
	procFile, pidFile, logFile := base+".json", base+".pid", base+".log"
	defer func() {
		for _, f := range []string{procFile, pidFile, logFile} {
			_ = os.Remove(f)
		}
	}()
	pj, err := json.Marshal(req.Process)
	if err != nil {
		fail(err)
		return
	}
	if err := os.WriteFile(procFile, pj, 0o600); err != nil {
		fail(err)
		return
	}
	opts := runc.ExecOptions{ProcessFile: procFile, PidFile: pidFile, LogFile: logFile}
	out := newOutput(nil)
	var sock *consoleSocket
	var child []*os.File
	var stdin *os.File
	tty := req.Process.Terminal
	switch {
	case tty:
		if sock, err = newConsoleSocket(s.cfg.SocketDir); err != nil {
			fail(err)
			return
		}
		defer sock.close()
		opts.ConsoleSocket = sock.path
	case !req.Detach:
		for _, kind := range []byte{frameStdout, frameStderr} {
			r, w, err := os.Pipe()
			if err != nil {
				fail(err)
				return
			}
			if kind == frameStdout {
				opts.IO.Stdout = w
			} else {
				opts.IO.Stderr = w
			}
			child = append(child, w)
			out.copy(kind, r)
		}
		if req.Stdin {
			r, w, err := os.Pipe()
			if err != nil {
				fail(err)
				return
			}
			opts.IO.Stdin, stdin = r, w
			child = append(child, r)
		}
	}
	cmd := s.cfg.Runc.ExecCommand(s.cfg.ID, opts)
	err = cmd.Start()
	for _, f := range child {
		f.Close()
	}
	if err != nil {
		out.discard()
		fail(fmt.Errorf("start runc exec: %w", err))
		return
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
		out.discard()
		if stdin != nil {
			stdin.Close()
		}
		if err := runc.LogError(logFile); err != nil {
			fail(err)
		} else {
			fail(fmt.Errorf("runc exec exited with %d", code))
		}
		return
	}
	pid, err := runc.ReadPid(pidFile)
	if err != nil {
		out.discard()
		fail(err)
		return
	}
	procExit := s.reaper.wait(pid)
	var master *os.File
	if sock != nil {
		if master = <-masterc; master == nil {
			fail(errors.New("runc sent no terminal"))
			return
		}
		// The copier owns the master from here and closes it at the end.
		// A detached process keeps its terminal: the master is drained so
		// its writes never block.
		stdin = master
		out.copy(frameStdout, master)
	}
	if req.Detach {
		_ = fc.writeJSON(frameResponse, Response{Pid: pid})
		out.start()
		go func() { <-procExit }()
		return
	}
	a := &attacher{fc: fc, stdout: true, stderr: true}
	if err := fc.writeJSON(frameResponse, Response{Pid: pid}); err != nil {
		return
	}
	out.add(a)
	out.start()
	go func() {
		buf := make([]byte, 32*1024)
		for {
			kind, data, err := fc.read(buf)
			if err != nil {
				return
			}
			switch kind {
			case frameStdin:
				if stdin != nil {
					_, _ = stdin.Write(data)
				}
			case frameStdinEOF:
				if stdin != nil && !tty {
					stdin.Close()
				}
			case frameResize:
				if v, err := uint32Of(data); err == nil && master != nil {
					_ = resize(master, uint16(v>>16), uint16(v))
				}
			}
		}
	}()
	code := <-procExit
	out.drain(time.Second)
	if stdin != nil && !tty {
		stdin.Close()
	}
	out.exit(code)
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
