package ctr_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/internal/testimage"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/syncbuf"
	hosttest "github.com/berth-dev/berth/internal/testimage"
)

// The tests run the shim as the test binary itself: TestMain turns into
// ShimMain when the manager starts it with this variable set; with cliEnv
// set it plays a short-lived `berth run -d`.
const (
	shimEnv = "BERTH_RUNTIME_TEST_SHIM"
	cliEnv  = "BERTH_RUNTIME_TEST_CLI"
)

const (
	testBridge = "berthtest1"
	testSubnet = "10.79.0.0/16"
)

var (
	sharedDir string // layers, built once
	runDir    string // short: console sockets live here
)

func TestMain(m *testing.M) {
	if os.Getenv(shimEnv) == "1" {
		// "POINT" or "POINT:PAUSE-DIR"
		point, pause, _ := strings.Cut(os.Getenv(shimCrashEnv), ":")
		setCrash(point, pause)
		os.Exit(ctr.ShimMain(os.Args[1:]))
	}
	if dir := os.Getenv(cliEnv); dir != "" {
		os.Exit(cliRunDetached(dir))
	}
	if spec := os.Getenv(crashCLIEnv); spec != "" {
		os.Exit(cliKilled(spec))
	}
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	if runDir != "" {
		os.RemoveAll(runDir)
	}
	if l, err := netlink.LinkByName(testBridge); err == nil {
		netlink.LinkDel(l)
	}
	os.Exit(code)
}

var setupOnce sync.Once
var setupErr error
var busyboxDir string

// needRuntime skips a test that cannot run here, loudly.
func needRuntime(t testing.TB) {
	t.Helper()
	if why := hosttest.CannotRunContainers(); why != "" {
		t.Skip(why)
	}
	setupOnce.Do(func() {
		if sharedDir, setupErr = os.MkdirTemp("", "berth-runtime-test"); setupErr != nil {
			return
		}
		if runDir, setupErr = os.MkdirTemp("/tmp", "brt"); setupErr != nil {
			return
		}
		busyboxDir = filepath.Join(sharedDir, "layers", "busybox", "fs")
		if setupErr = os.MkdirAll(busyboxDir, 0o755); setupErr != nil {
			return
		}
		setupErr = testimage.BusyboxLayer(busyboxDir)
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

// newManager opens a manager in a fresh directory.
func newManager(t testing.TB) *ctr.Manager {
	t.Helper()
	m, _ := newManagerWith(t, nil)
	return m
}

// newManagerWith is newManager with its options changed by opt first; it
// returns them too.
func newManagerWith(t testing.TB, opt func(*ctr.Options)) (*ctr.Manager, ctr.Options) {
	t.Helper()
	needRuntime(t)
	root := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts := ctr.Options{
		RunDir:  runDir,
		Shim:    []string{exe},
		ShimEnv: []string{shimEnv + "=1"},
		Bridge:  testBridge,
		Subnet:  testSubnet,
	}
	if opt != nil {
		opt(&opts)
	}
	m, err := ctr.Open(context.Background(), filepath.Join(root, "containers"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever a test left running goes; nothing may stay mounted.
		list, _ := m.List(context.Background())
		for _, c := range list {
			if err := m.Remove(context.Background(), c.ID, ctr.RemoveOptions{Force: true, Volumes: true}); err != nil {
				t.Errorf("cleanup: remove %s: %v", c.ShortID(), err)
			}
		}
		if mps := mountsUnder(t, root); len(mps) > 0 {
			t.Errorf("still mounted after the test: %v", mps)
		}
	})
	return m, opts
}

// busybox is the options of a container of the busybox image.
func busybox(cmd ...string) ctr.CreateOptions {
	return ctr.CreateOptions{
		Image:       "busybox",
		ImageID:     "sha256:" + strings.Repeat("b", 64),
		Layers:      []string{busyboxDir},
		ImageConfig: &image.ContainerConfig{Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, Cmd: []string{"sh"}},
		Cmd:         cmd,
		Network:     "none",
	}
}

// run creates and starts a container attached, waits for it and returns
// its output and exit code.
func run(t *testing.T, m *ctr.Manager, o ctr.CreateOptions) (string, string, int) {
	t.Helper()
	ctx := context.Background()
	c, err := m.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncbuf.Buffer
	s, err := m.Start(ctx, c.ID, &ctr.Streams{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	code, err := s.Wait(wctx)
	if err != nil {
		t.Fatalf("wait: %v (output %q %q)", err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String(), code
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mountsUnder lists mount points under dir from /proc/self/mountinfo.
func mountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, f[4])
		}
	}
	return out
}

func TestRunEcho(t *testing.T) {
	m := newManager(t)
	out, errOut, code := run(t, m, busybox("echo", "hi"))
	if out != "hi\n" || errOut != "" || code != 0 {
		t.Fatalf("echo hi: %q %q %d", out, errOut, code)
	}
	list, err := m.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	c := list[0]
	if c.State.Status != ctr.StatusExited || c.State.Running || c.State.ExitCode != 0 || c.State.FinishedAt.IsZero() {
		t.Errorf("state after exit: %+v", c.State)
	}
	if !strings.HasPrefix(c.StatusText(time.Now()), "Exited (0) ") {
		t.Errorf("status %q", c.StatusText(time.Now()))
	}
	var logs bytes.Buffer
	if err := m.Logs(context.Background(), c.Name, ctr.LogsOptions{Tail: -1}, &logs, &logs); err != nil || logs.String() != "hi\n" {
		t.Errorf("logs %q %v", logs.String(), err)
	}
	fmt.Fprint(os.Stderr)
}
