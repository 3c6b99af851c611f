package ctr_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/syncbuf"
	"github.com/berth-dev/berth/internal/term"
)

// terminal is a pty pair standing in for the user's terminal: the test
// types into and reads from the master, berth gets the slave in raw mode,
// as the CLI sets up a real terminal.
func terminal(t *testing.T) (user, tty *os.File) {
	t.Helper()
	user, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { user.Close(); tty.Close() })
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	// cfmakeraw
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	return user, tty
}

// readUntil reads r until what it read contains want.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var got strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for !strings.Contains(got.String(), want) {
			n, err := r.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("no %q in %q", want, got.String())
	}
	return got.String()
}

func TestExecTTY(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	c := startDetached(t, m, busybox("sleep", "1000"))
	// The user's terminal, set up by term.Attach as the CLI will.
	user, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	defer tty.Close()
	if err := pty.Setsize(user, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	s, err := m.Exec(ctx, c.ID, ctr.ExecOptions{Cmd: []string{"sh"}, Tty: true}, ctr.Streams{Stdin: tty, Stdout: tty})
	if err != nil {
		t.Fatal(err)
	}
	restore, err := term.Attach(s, tty, tty)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	io.WriteString(user, "tty; stty size; echo TERM=$TERM; echo $((6*7))\r")
	out := readUntil(t, user, "42")
	for _, want := range []string{"/dev/pts/0", "40 100", "TERM=xterm"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the shell's output %q", want, out)
		}
	}
	// The user resizes the window: the container's terminal follows.
	if err := pty.Setsize(user, &pty.Winsize{Rows: 50, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
	waitFor(t, "the new size", func() bool {
		io.WriteString(user, "stty size\r")
		return strings.Contains(readUntil(t, user, "\n"), "50 120")
	})
	io.WriteString(user, "exit 5\r")
	if code, err := s.Wait(ctx); err != nil || code != 5 {
		t.Errorf("exit code %d %v", code, err)
	}
}

func TestRunInteractiveTTY(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	o := busybox("sh")
	o.Tty, o.OpenStdin = true, true
	c, err := m.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	user, tty := terminal(t)
	s, err := m.Start(ctx, c.ID, &ctr.Streams{Stdin: tty, Stdout: tty, DetachKeys: ctr.DefaultDetachKeys})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(user, "echo hello-$((1+1))\r")
	readUntil(t, user, "hello-2")
	// Ctrl-C reaches the foreground job through the container's terminal.
	io.WriteString(user, "sleep 100\r")
	time.Sleep(300 * time.Millisecond)
	io.WriteString(user, "\x03echo after-$((2+2))\r")
	readUntil(t, user, "after-4")
	// Ctrl-P Ctrl-Q detaches; the container runs on.
	io.WriteString(user, "\x10\x11")
	if _, err := s.Wait(ctx); !errors.Is(err, ctr.ErrDetached) {
		t.Fatalf("after the detach keys: %v", err)
	}
	if c, _ = m.Get(ctx, c.ID); !c.State.Running {
		t.Fatal("detaching stopped the container")
	}
	// Attach again and leave.
	user2, tty2 := terminal(t)
	s, err = m.Attach(ctx, c.ID, ctr.Streams{Stdin: tty2, Stdout: tty2})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(user2, "exit 3\r")
	if code, err := s.Wait(ctx); err != nil || code != 3 {
		t.Errorf("exit through a second attach: %d %v", code, err)
	}
	c, _ = m.Get(ctx, c.ID)
	if c.State.Running || c.State.ExitCode != 3 {
		t.Errorf("state %+v", c.State)
	}
	var logs syncbuf.Buffer
	if err := m.Logs(ctx, c.ID, ctr.LogsOptions{Tail: -1}, &logs, &logs); err != nil || !strings.Contains(logs.String(), "hello-2\r\n") {
		t.Errorf("tty logs: %q %v", logs.String(), err)
	}
}

func TestRunStdin(t *testing.T) {
	m := newManager(t)
	o := busybox("sh", "-c", "cat; echo done >&2")
	o.OpenStdin, o.StdinOnce = true, true
	c, err := m.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut syncbuf.Buffer
	s, err := m.Start(context.Background(), c.ID, &ctr.Streams{Stdin: strings.NewReader("piped in\n"), Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := s.Wait(context.Background()); err != nil || code != 0 {
		t.Fatalf("%d %v", code, err)
	}
	if out.String() != "piped in\n" || errOut.String() != "done\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestExec(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	o := busybox("sleep", "1000")
	o.Env = []string{"FROM_RUN=1"}
	o.WorkingDir = "/tmp"
	c := startDetached(t, m, o)
	if out := execOut(t, m, c.ID, "sh", "-c", "pwd; id -u; echo $FROM_RUN"); out != "/tmp\n0\n1\n" {
		t.Errorf("defaults: %q", out)
	}
	var out syncbuf.Buffer
	s, err := m.Exec(ctx, c.ID, ctr.ExecOptions{Cmd: []string{"sh", "-c", "pwd; id; echo $X; exit 9"}, User: "app", WorkingDir: "/home/app", Env: []string{"X=y"}},
		ctr.Streams{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := s.Wait(ctx); code != 9 || err != nil {
		t.Errorf("exit %d %v", code, err)
	}
	if want := "/home/app\nuid=1000(app) gid=1000(app) groups=29(audio),1000(app)\ny\n"; out.String() != want {
		t.Errorf("exec -u app -w /home/app -e X=y: %q, want %q", out.String(), want)
	}
	// exec -d: runs on its own.
	if _, err := m.Exec(ctx, c.ID, ctr.ExecOptions{Cmd: []string{"sh", "-c", "echo detached > /tmp/d"}, Detach: true}, ctr.Streams{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "exec -d", func() bool { return execOut(t, m, c.ID, "cat", "/tmp/d") == "detached\n" })
	for _, tt := range []struct {
		cmd  string
		kind error
	}{{"nosuch", ctr.ErrCommandNotFound}, {"/etc", ctr.ErrCommandNotExecutable}} {
		if _, err := m.Exec(ctx, c.ID, ctr.ExecOptions{Cmd: []string{tt.cmd}}, ctr.Streams{}); !errors.Is(err, tt.kind) {
			t.Errorf("exec %s: %v, want %v", tt.cmd, err, tt.kind)
		}
	}
	if _, err := m.Exec(ctx, c.ID, ctr.ExecOptions{Cmd: []string{"true"}, User: "nobody2"}, ctr.Streams{}); !errdefs.IsInvalid(err) {
		t.Errorf("unknown user: %v", err)
	}
	zero := time.Duration(0)
	if err := m.Stop(ctx, c.ID, &zero); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Exec(ctx, c.ID, ctr.ExecOptions{Cmd: []string{"true"}}, ctr.Streams{}); !errdefs.IsConflict(err) {
		t.Errorf("exec in a stopped container: %v", err)
	}
}
