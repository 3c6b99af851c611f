package shim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/ctr/runc"
)

// execProc is a process exec started in the container: the shim is its
// parent, and the client attached to it gets its output and exit code.
type execProc struct {
	pid      int
	tty      bool
	out      *output
	stdin    *os.File // the process's stdin, or its terminal's master
	master   *os.File // with a terminal
	procExit <-chan int
}

// exec starts a process in the running container with `runc exec
// --detach`; the process becomes the shim's child, and the client is
// attached to it until it exits.
func (s *server) exec(fc *frameConn, req Request) {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited || req.Process == nil {
		_ = fc.writeJSON(frameResponse, errorResponse(errors.New("container is not running")))
		return
	}
	p, err := s.startExec(req)
	if err != nil {
		_ = fc.writeJSON(frameResponse, errorResponse(err))
		return
	}
	if req.Detach {
		_ = fc.writeJSON(frameResponse, Response{Pid: p.pid})
		p.out.start()
		go func() { <-p.procExit }()
		return
	}
	a := &attacher{fc: fc, stdout: true, stderr: true}
	if err := fc.writeJSON(frameResponse, Response{Pid: p.pid}); err != nil {
		return
	}
	p.out.add(a)
	p.out.start()
	go p.clientInput(fc)
	code := <-p.procExit
	p.out.drain(time.Second)
	if p.stdin != nil && !p.tty {
		p.stdin.Close()
	}
	p.out.exit(code)
}

// startExec runs `runc exec --detach` for req's process and returns it
// running, its output held until the caller opens the gate.
func (s *server) startExec(req Request) (*execProc, error) {
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
		return nil, err
	}
	if err := os.WriteFile(procFile, pj, 0o600); err != nil {
		return nil, err
	}
	opts := runc.ExecOptions{ProcessFile: procFile, PidFile: pidFile, LogFile: logFile}
	p := &execProc{tty: req.Process.Terminal, out: newOutput(nil)}
	sock, child, err := s.execIO(&opts, req, p)
	if err != nil {
		return nil, err
	}
	if sock != nil {
		defer sock.close()
	}
	cmd := s.cfg.Runc.ExecCommand(s.cfg.ID, opts)
	err = cmd.Start()
	for _, f := range child {
		f.Close()
	}
	if err != nil {
		p.out.discard()
		return nil, fmt.Errorf("start runc exec: %w", err)
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
		p.out.discard()
		if p.stdin != nil {
			p.stdin.Close()
		}
		if err := runc.LogError(logFile); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("runc exec exited with %d", code)
	}
	if p.pid, err = runc.ReadPid(pidFile); err != nil {
		p.out.discard()
		return nil, err
	}
	p.procExit = s.reaper.wait(p.pid)
	if sock != nil {
		if p.master = <-masterc; p.master == nil {
			return nil, errors.New("runc sent no terminal")
		}
		// The copier owns the master from here and closes it at the end.
		// A detached process keeps its terminal: the master is drained so
		// its writes never block.
		p.stdin = p.master
		p.out.copy(frameStdout, p.master)
	}
	return p, nil
}

// execIO sets up the process's stdio in opts: a console socket for a
// terminal, else pipes unless detached. child are the process's ends, for
// the caller to close once runc has them.
func (s *server) execIO(opts *runc.ExecOptions, req Request, p *execProc) (*consoleSocket, []*os.File, error) {
	switch {
	case p.tty:
		sock, err := newConsoleSocket(s.cfg.SocketDir)
		if err != nil {
			return nil, nil, err
		}
		opts.ConsoleSocket = sock.path
		return sock, nil, nil
	case req.Detach:
		return nil, nil, nil
	}
	var child []*os.File
	fail := func(err error) (*consoleSocket, []*os.File, error) {
		for _, f := range child {
			f.Close()
		}
		return nil, nil, err
	}
	for _, kind := range []byte{frameStdout, frameStderr} {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		if kind == frameStdout {
			opts.IO.Stdout = w
		} else {
			opts.IO.Stderr = w
		}
		child = append(child, w)
		p.out.copy(kind, r)
	}
	if req.Stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		opts.IO.Stdin, p.stdin = r, w
		child = append(child, r)
	}
	return nil, child, nil
}

// clientInput applies what the attached client sends to the process:
// stdin, the end of stdin and terminal sizes.
func (p *execProc) clientInput(fc *frameConn) {
	buf := make([]byte, 32*1024)
	for {
		kind, data, err := fc.read(buf)
		if err != nil {
			return
		}
		switch kind {
		case frameStdin:
			if p.stdin != nil {
				_, _ = p.stdin.Write(data)
			}
		case frameStdinEOF:
			if p.stdin != nil && !p.tty {
				p.stdin.Close()
			}
		case frameResize:
			if v, err := uint32Of(data); err == nil && p.master != nil {
				_ = resize(p.master, uint16(v>>16), uint16(v))
			}
		}
	}
}
