package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/berth-dev/berth/internal/testimage"
)

// These tests run the real binary where a process must outlive the
// command, or a real terminal is needed: the shim is `berth shim`, and the
// runtime uses its defaults (/run/berth, the berth0 bridge).

func needContainers(t *testing.T) {
	t.Helper()
	if why := testimage.CannotRunContainers(); why != "" {
		t.Skip(why)
	}
}

// storeWithImage is a store holding "img" (busybox-static). Containers a
// test leaves are removed after it; nothing may stay mounted.
func storeWithImage(t *testing.T) string {
	t.Helper()
	needContainers(t)
	bb, err := testimage.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := os.WriteFile(p, testimage.DockerArchive(testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, bb), Layers: [][]byte{bb}, Tags: []string{"img"}}), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if _, err := berth(t, root, "load", "-q", "-i", p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out, _ := berth(t, root, "ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			if _, err := berth(t, root, "rm", "-f", id); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mi), " "+root+"/") {
			t.Errorf("still mounted under %s", root)
		}
	})
	return root
}

// console is a terminal the test types into, with what berth wrote to it.
type console struct {
	t   *testing.T
	pty *os.File
	mu  sync.Mutex
	out strings.Builder
}

// startOnTerminal starts berth with a pty as its controlling terminal and
// stdio, as a user's shell would.
func startOnTerminal(t *testing.T, root string, args ...string) (*exec.Cmd, *console) {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", root}, args...)...)
	p, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	c := &console{t: t, pty: p}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := p.Read(buf)
			c.mu.Lock()
			c.out.Write(buf[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		p.Close()
	})
	return cmd, c
}

func (c *console) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *console) expect(want string) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(c.text(), want) {
		if time.Now().After(deadline) {
			c.t.Fatalf("no %q on the terminal: %q", want, c.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *console) typeIn(s string) {
	if _, err := io.WriteString(c.pty, s); err != nil {
		c.t.Fatal(err)
	}
}

// exitCode waits for cmd and returns its exit code.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("berth %v did not exit", cmd.Args)
		return -1
	}
}

func TestExecAndRunWithATerminal(t *testing.T) {
	root := storeWithImage(t)
	if _, err := berth(t, root, "run", "-d", "--name", "box", "img", "sleep", "1000"); err != nil {
		t.Fatal(err)
	}
	// exec -it: a shell on a real terminal of the window's size.
	cmd, c := startOnTerminal(t, root, "exec", "-it", "box", "sh")
	c.typeIn("tty; stty size; echo TERM=$TERM; echo $((6*7))\r")
	c.expect("42")
	for _, want := range []string{"/dev/pts/0", "40 100", "TERM=xterm"} {
		if !strings.Contains(c.text(), want) {
			t.Errorf("no %q in %q", want, c.text())
		}
	}
	c.typeIn("exit 5\r")
	if code := exitCode(t, cmd); code != 5 {
		t.Errorf("exec -it exit code %d", code)
	}

	// run -it, then Ctrl-P Ctrl-Q: berth returns, the container runs on;
	// attach finds the same shell.
	cmd, c = startOnTerminal(t, root, "run", "-it", "--name", "shell", "img", "sh")
	c.typeIn("echo one-$((1+1))\r")
	c.expect("one-2")
	c.typeIn("\x10\x11")
	if code := exitCode(t, cmd); code != 0 {
		t.Errorf("detach: exit code %d", code)
	}
	if out, _ := berth(t, root, "ps", "--filter", "name=shell", "--format", "{{.State}}"); out != "running\n" {
		t.Fatalf("after detaching: %q", out)
	}
	cmd, c = startOnTerminal(t, root, "attach", "shell")
	c.typeIn("echo two-$((1+1))\r")
	c.expect("two-2")
	c.typeIn("exit 7\r")
	if code := exitCode(t, cmd); code != 7 {
		t.Errorf("attach: exit code %d", code)
	}
	if out, _ := berth(t, root, "ps", "-a", "--filter", "name=shell", "--format", "{{.Status}}"); !strings.HasPrefix(out, "Exited (7) ") {
		t.Errorf("after exit in attach: %q", out)
	}

	// Ctrl-C on a terminal reaches the container's foreground process.
	cmd, c = startOnTerminal(t, root, "run", "-it", "--rm", "img", "sh", "-c", `trap "echo caught; exit 43" INT; echo ready; while :; do sleep 0.1; done`)
	c.expect("ready")
	c.typeIn("\x03")
	if code := exitCode(t, cmd); code != 43 {
		t.Errorf("Ctrl-C on a terminal: exit %d, %q", code, c.text())
	}
	// The terminal's reader may still be behind when berth has exited.
	c.expect("caught")
}

func TestSignalsReachTheContainer(t *testing.T) {
	root := storeWithImage(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := exec.Command(berthBin, "--root", root, "run", "--rm", "img", "sh", "-c",
			`trap "echo caught INT; exit 42" INT; trap "echo caught TERM; exit 43" TERM; echo ready; while :; do sleep 0.1; done`)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		if line, _ := r.ReadString('\n'); line != "ready\n" {
			t.Fatalf("first line %q", line)
		}
		cmd.Process.Signal(sig)
		rest, _ := io.ReadAll(r)
		want, code := "caught INT\n", 42
		if sig == syscall.SIGTERM {
			want, code = "caught TERM\n", 43
		}
		if got := exitCode(t, cmd); got != code || string(rest) != want {
			t.Errorf("%v: exit %d, output %q", sig, got, rest)
		}
	}
}

// record is a container's record as the runtime keeps it.
func record(t *testing.T, root, id string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "containers", id, "container.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStateOutlivesTheCommand(t *testing.T) {
	root := storeWithImage(t)
	out, err := berth(t, root, "run", "-d", "--name", "lives", "img", "sleep", "1000")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	// Right after the command exits the container runs on.
	if out, _ := berth(t, root, "ps", "--format", "{{.Names}} {{.State}}"); out != "lives running\n" {
		t.Fatalf("ps after run -d exited: %q", out)
	}
	if out, _ := berth(t, root, "exec", "lives", "echo", "still here"); out != "still here\n" {
		t.Errorf("exec: %q", out)
	}

	// The shim dies: the container shows as exited, not running for ever,
	// and can be started again.
	shim := int(record(t, root, id)["State"].(map[string]any)["Shim"].(map[string]any)["Pid"].(float64))
	syscall.Kill(shim, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ = berth(t, root, "ps", "-a", "--format", "{{.Status}}")
		if strings.HasPrefix(out, "Exited (") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(out, "Exited (137) ") {
		t.Fatalf("after the shim died: %q", out)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), filepath.Join(root, "containers", id)) {
		t.Error("the dead shim's container is still mounted")
	}
	if _, err := berth(t, root, "start", "lives"); err != nil {
		t.Fatal(err)
	}

	// A reboot: no processes, mounts, namespaces or runc state, and a
	// record that says running, from another boot.
	r := record(t, root, id)
	st := r["State"].(map[string]any)
	syscall.Kill(int(st["Shim"].(map[string]any)["Pid"].(float64)), syscall.SIGKILL)
	syscall.Kill(int(st["Pid"].(float64)), syscall.SIGKILL)
	mi, _ = os.ReadFile("/proc/self/mountinfo")
	var mps []string
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], filepath.Join(root, "containers", id)+"/") {
			mps = append(mps, f[4])
		}
	}
	for i := len(mps) - 1; i >= 0; i-- {
		syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
	if ep, ok := r["NetworkSettings"].(map[string]any)["Endpoint"].(map[string]any); ok {
		syscall.Unmount(ep["NetNS"].(string), syscall.MNT_DETACH)
	}
	os.RemoveAll(filepath.Join("/run/berth/runc", id))
	st["Shim"].(map[string]any)["BootID"] = "another-boot"
	b, _ := json.Marshal(r)
	if err := os.WriteFile(filepath.Join(root, "containers", id, "container.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _ := berth(t, root, "ps", "-a", "--format", "{{.Status}}"); !strings.HasPrefix(out, "Exited (255) ") {
		t.Fatalf("after a reboot: %q", out)
	}
	if out, err := berth(t, root, "start", "lives"); err != nil || out != "lives\n" {
		t.Fatalf("start after a reboot: %q %v", out, err)
	}
	if out, _ := berth(t, root, "exec", "lives", "sh", "-c", "ip -4 -o addr show eth0 | grep -c inet"); out != "1\n" {
		t.Errorf("no address after the restart: %q", out)
	}
}
