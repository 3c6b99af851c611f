package ctr_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/syncbuf"
	"github.com/berth-dev/berth/internal/term"
)

func TestExitCodes(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	if _, _, code := run(t, m, busybox("sh", "-c", "exit 3")); code != 3 {
		t.Errorf("exit 3: got %d", code)
	}
	tests := []struct {
		cmd  []string
		kind error
		code int
	}{
		{[]string{"nosuch"}, ctr.ErrCommandNotFound, 127},
		{[]string{"/nosuch/binary"}, ctr.ErrCommandNotFound, 127},
		{[]string{"/etc"}, ctr.ErrCommandNotExecutable, 126},
		{[]string{"/etc/passwd"}, ctr.ErrCommandNotExecutable, 126},
	}
	for _, tt := range tests {
		c, err := m.Create(ctx, busybox(tt.cmd...))
		if err != nil {
			t.Fatal(err)
		}
		var out syncbuf.Buffer
		_, err = m.Start(ctx, c.ID, &ctr.Streams{Stdout: &out, Stderr: &out})
		if !errors.Is(err, tt.kind) {
			t.Errorf("%v: start error %v, want %v", tt.cmd, err, tt.kind)
			continue
		}
		if !strings.Contains(err.Error(), "OCI runtime create failed") {
			t.Errorf("%v: error %q not worded as Docker's", tt.cmd, err)
		}
		if out.String() != "" {
			t.Errorf("%v: runc's message leaked into the container's output: %q", tt.cmd, out.String())
		}
		c, err = m.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.State.Status != ctr.StatusCreated || c.State.ExitCode != tt.code || c.State.Error == "" {
			t.Errorf("%v: state %+v, want created with exit code %d", tt.cmd, c.State, tt.code)
		}
		if mps := mountsUnder(t, c.Dir()); len(mps) > 0 {
			t.Errorf("%v: a failed start left mounts: %v", tt.cmd, mps)
		}
	}
	o := busybox()
	o.ImageConfig.Cmd = nil
	if _, err := m.Create(ctx, o); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "no command specified") {
		t.Errorf("no command: %v", err)
	}
}

func TestRunRm(t *testing.T) {
	m := newManager(t)
	o := busybox("echo", "bye")
	o.AutoRemove = true
	out, _, code := run(t, m, o)
	if out != "bye\n" || code != 0 {
		t.Fatalf("%q %d", out, code)
	}
	// Gone by the time the session ends, as `docker run --rm` waits for.
	if list, _ := m.List(context.Background()); len(list) != 0 {
		t.Fatalf("--rm container still listed: %v", list[0].State)
	}
	// A failed start of an --rm container removes it too.
	o = busybox("nosuch")
	o.AutoRemove = true
	c, err := m.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(context.Background(), c.ID, nil); !errors.Is(err, ctr.ErrCommandNotFound) {
		t.Fatalf("start: %v", err)
	}
	if _, err := m.Get(context.Background(), c.ID); !errdefs.IsNotFound(err) {
		t.Errorf("failed --rm container kept: %v", err)
	}
}

func startDetached(t *testing.T, m *ctr.Manager, o ctr.CreateOptions) *ctr.Container {
	t.Helper()
	ctx := context.Background()
	c, err := m.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := m.Start(ctx, c.ID, nil); err != nil || s != nil {
		t.Fatalf("start: %v %v", s, err)
	}
	c, err = m.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !c.State.Running || c.State.Pid == 0 || c.State.Status != ctr.StatusRunning {
		t.Fatalf("not running after start: %+v", c.State)
	}
	return c
}

func TestStopStartRemove(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	// sleep as pid 1 ignores SIGTERM: stop must fall back to SIGKILL.
	c := startDetached(t, m, busybox("sleep", "1000"))
	if !strings.HasPrefix(c.StatusText(time.Now()), "Up ") {
		t.Errorf("status %q", c.StatusText(time.Now()))
	}
	if err := m.Remove(ctx, c.Name, ctr.RemoveOptions{}); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "You cannot remove a running container") {
		t.Errorf("rm of a running container: %v", err)
	}
	timeout := 500 * time.Millisecond
	start := time.Now()
	if err := m.Stop(ctx, c.Name, &timeout); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < timeout {
		t.Errorf("stop returned after %v, before the timeout", d)
	}
	c, _ = m.Get(ctx, c.ID)
	if c.State.Running || c.State.ExitCode != 137 {
		t.Fatalf("after stop: %+v", c.State)
	}
	if mps := mountsUnder(t, c.Dir()); len(mps) > 0 {
		t.Errorf("stopped container still mounted: %v", mps)
	}
	// Stopping a stopped container is fine; killing one is not.
	if err := m.Stop(ctx, c.ID, nil); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if err := m.Kill(ctx, c.ID, syscall.SIGKILL); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "is not running") {
		t.Errorf("kill of a stopped container: %v", err)
	}
	// start works again, and a start of a running one is a no-op.
	if _, err := m.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ = m.Get(ctx, c.ID); !c.State.Running {
		t.Fatal("not running after restart")
	}
	if err := m.Remove(ctx, c.ID[:10], ctr.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, c.ID); !errdefs.IsNotFound(err) {
		t.Errorf("after rm -f: %v", err)
	}
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Errorf("container directory left: %v", err)
	}
	// The name is free again.
	o := busybox("true")
	o.Name = c.Name
	if _, err := m.Create(ctx, o); err != nil {
		t.Errorf("reuse of a removed container's name: %v", err)
	}
	if _, err := m.Create(ctx, o); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), `The container name "/`+c.Name+`" is already in use`) {
		t.Errorf("name clash: %v", err)
	}
}

func TestSignals(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	c, err := m.Create(ctx, busybox("sh", "-c", `trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.05; done`))
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	s, err := m.Start(ctx, c.ID, &ctr.Streams{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", func() bool { return strings.Contains(out.String(), "ready") })
	// What `docker run` does with a Ctrl-C or a SIGTERM it receives.
	stop := term.ForwardSignals(s)
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := s.Wait(ctx)
	if err != nil || code != 42 || !strings.Contains(out.String(), "got TERM") {
		t.Fatalf("signal forwarded: code %d err %v output %q", code, err, out.String())
	}
	// stop sends the image's stop signal.
	o := busybox("sh", "-c", `trap "exit 7" USR1; echo trapped; while :; do sleep 0.05; done`)
	o.StopSignal = "SIGUSR1"
	c = startDetached(t, m, o)
	waitFor(t, "the trap", func() bool {
		var logs syncbuf.Buffer
		m.Logs(ctx, c.ID, ctr.LogsOptions{Tail: -1}, &logs, &logs)
		return logs.String() == "trapped\n"
	})
	if err := m.Stop(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if code, err := m.Wait(ctx, c.ID); err != nil || code != 7 {
		t.Errorf("stop signal: %d %v", code, err)
	}
	// kill -s
	c = startDetached(t, m, busybox("sleep", "1000"))
	if err := m.Kill(ctx, c.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, err := m.Wait(ctx, c.ID); err != nil || code != 137 {
		t.Errorf("kill: %d %v", code, err)
	}
}

func TestShimKilled(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	c := startDetached(t, m, busybox("sleep", "1000"))
	pid := c.State.Pid
	if err := syscall.Kill(c.State.Shim.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shim to die", func() bool {
		b, err := os.ReadFile("/proc/" + itoa(c.State.Shim.Pid) + "/stat")
		return err != nil || strings.Contains(string(b), ") Z ")
	})
	got, err := m.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Running || got.State.Status != ctr.StatusExited || got.State.ExitCode != 137 {
		t.Fatalf("with its shim dead the container shows %+v", got.State)
	}
	// The container itself did not run on unsupervised.
	waitFor(t, "the orphaned container to die", func() bool {
		b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(b), ") Z ")
	})
	if mps := mountsUnder(t, c.Dir()); len(mps) > 0 {
		t.Errorf("mounts left: %v", mps)
	}
	if _, err := m.Start(ctx, c.ID, nil); err != nil {
		t.Fatalf("start after the shim died: %v", err)
	}
	if got, _ = m.Get(ctx, c.ID); !got.State.Running {
		t.Fatalf("not running: %+v", got.State)
	}
}

func TestAfterReboot(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	o := busybox("sleep", "1000")
	o.Network = "bridge"
	c := startDetached(t, m, o)
	// What a reboot leaves: no processes, no mounts, no namespaces, no runc
	// state, a record that says running, from another boot.
	syscall.Kill(c.State.Shim.Pid, syscall.SIGKILL)
	syscall.Kill(c.State.Pid, syscall.SIGKILL)
	for _, mp := range mountsUnder(t, c.Dir()) {
		syscall.Unmount(mp, syscall.MNT_DETACH)
	}
	syscall.Unmount(c.NetworkSettings.Endpoint.NetNS, syscall.MNT_DETACH)
	os.RemoveAll(filepath.Join(runDir, "runc", c.ID))
	boot := ctr.BootID(m)
	ctr.SetBootID(m, "another-boot")
	got, err := m.Get(ctx, c.ID)
	ctr.SetBootID(m, boot)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Running || got.State.Status != ctr.StatusExited || got.State.ExitCode != 255 {
		t.Fatalf("after a reboot: %+v", got.State)
	}
	if _, err := m.Start(ctx, c.ID, nil); err != nil {
		t.Fatalf("start after a reboot: %v", err)
	}
	got, _ = m.Get(ctx, c.ID)
	if !got.State.Running || got.NetworkSettings.IPAddress() == "" {
		t.Fatalf("after start: %+v %+v", got.State, got.NetworkSettings)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStarterDiedMidway(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	o := busybox("sh", "-c", "ip -4 -o addr show eth0")
	o.Network = "bridge"
	c, err := m.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// What a starter killed between setting up and handing over leaves:
	// the root filesystem mounted and a namespace on the bridge, unrecorded.
	ctr.Prepare(t, m, c)
	if len(mountsUnder(t, c.Dir())) == 0 {
		t.Fatal("nothing mounted to leave behind")
	}
	out, errOut, code := run2(t, m, c.ID)
	if code != 0 || !strings.Contains(out, "inet 10.79.") {
		t.Fatalf("start over what a dead starter left: %q %q %d", out, errOut, code)
	}
}

// run2 starts an existing container attached and waits for it.
func run2(t *testing.T, m *ctr.Manager, id string) (string, string, int) {
	t.Helper()
	var stdout, stderr syncbuf.Buffer
	s, err := m.Start(context.Background(), id, &ctr.Streams{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	code, err := s.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}
