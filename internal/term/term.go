// Package term readies the caller's terminal and signals for a session
// with a process in a container, as Docker's CLI does around `run`,
// `start -a`, `attach` and `exec`. It is the CLI's side of a session, not
// the runtime's: it knows the session only as the three things it does to
// it, so that the CLI keeps it while importing nothing of the runtime.
package term

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Session is what the terminal and the signals act on: a process in a
// container that can be resized and signalled, until it is done.
type Session interface {
	Resize(height, width uint16) error
	Signal(sig syscall.Signal) error
	Done() <-chan struct{}
}

// Attach readies the caller's terminal for a session with a TTY,
// as `docker run -it` does: raw mode on in (so keys such as Ctrl-C and the
// detach keys reach the session as bytes), and the size of out sent now and
// on every SIGWINCH. restore puts the terminal back; call it before
// printing anything else.
func Attach(s Session, in, out *os.File) (restore func(), err error) {
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
func ForwardSignals(s Session) (stop func()) {
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
func (p *SignalProxy) Forward(s Session) {
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
