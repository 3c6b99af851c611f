package runtime

import (
	"os"
	"os/signal"
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
	sigc := make(chan os.Signal, 16)
	// Every catchable signal but those that are about the caller itself.
	var sigs []os.Signal
	for sig := syscall.Signal(1); sig < 32; sig++ {
		switch sig {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGWINCH, syscall.SIGURG, syscall.SIGPROF:
			continue
		}
		sigs = append(sigs, sig)
	}
	signal.Notify(sigc, sigs...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigc:
				_ = s.Signal(sig.(syscall.Signal))
			case <-done:
				return
			case <-s.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigc)
		close(done)
	}
}
