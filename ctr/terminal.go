package ctr

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// AttachTerminal readies the caller's terminal for a session with a TTY,
// as `docker run -it` does: raw mode on in (so keys such as Ctrl-C and the
// detach keys reach the session as bytes), and the size of out sent now and
// on every SIGWINCH. restore puts the terminal back; call it before
// printing anything else.
func AttachTerminal(s *Session, in, out *os.File) (restore func(), err error) {
	var state *term.State
	if term.IsTerminal(int(in.Fd())) {
		if state, err = term.MakeRaw(int(in.Fd())); err != nil {
			return nil, err
		}
	}
	resize := func() {
		if ws, err := unix.IoctlGetWinsize(int(out.Fd()), unix.TIOCGWINSZ); err == nil {
			_ = s.Resize(ws.Row, ws.Col)
		}
	}
	resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				resize()
			case <-done:
				return
			case <-s.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
		if state != nil {
			_ = term.Restore(int(in.Fd()), state)
		}
	}, nil
}

// ForwardSignals passes the signals the caller receives on to the
// container's first process, as `docker run` does without a TTY (its
// --sig-proxy): Ctrl-C interrupts the container, not just the client. stop
// ends the forwarding.
func ForwardSignals(s *Session) (stop func()) {
	p := CatchSignals()
	p.Forward(s)
	return p.Stop
}

// SignalProxy catches the caller's signals from the moment it is made and
// passes them on once it knows the session: a signal that arrives while the
// container starts (its first output already on the screen) is not lost.
type SignalProxy struct {
	sigc chan os.Signal
	done chan struct{}
	once sync.Once
}

// CatchSignals starts catching every catchable signal but those about the
// caller itself (SIGCHLD, SIGPIPE, SIGWINCH...).
func CatchSignals() *SignalProxy {
	p := &SignalProxy{sigc: make(chan os.Signal, 16), done: make(chan struct{})}
	var sigs []os.Signal
	for sig := syscall.Signal(1); sig < 32; sig++ {
		switch sig {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGWINCH, syscall.SIGURG, syscall.SIGPROF:
			continue
		}
		sigs = append(sigs, sig)
	}
	signal.Notify(p.sigc, sigs...)
	return p
}

// Forward passes what was caught, and what follows, to s's process until
// Stop or the session's end.
func (p *SignalProxy) Forward(s *Session) {
	go func() {
		for {
			select {
			case sig := <-p.sigc:
				_ = s.Signal(sig.(syscall.Signal))
			case <-p.done:
				return
			case <-s.Done():
				return
			}
		}
	}()
}

// Stop stops catching signals.
func (p *SignalProxy) Stop() {
	p.once.Do(func() {
		signal.Stop(p.sigc)
		close(p.done)
	})
}
