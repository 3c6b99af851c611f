package hub_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/dockertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.Stop()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// berthBinary builds the real berth command once per test run, as a static
// binary the way it ships (CGO_ENABLED=0).
func berthBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "berth-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "berth")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/berth-dev/berth/cmd/berth")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("building berth: %v\n%s", binErr, binPath)
	}
	return binPath
}

// hubProcess is `berth hub serve` running as its own process.
type hubProcess struct {
	cmd  *exec.Cmd
	Addr string
	Root string
	log  *strings.Builder
	mu   *sync.Mutex
	done chan struct{}
}

// startHub runs `berth hub serve --addr 127.0.0.1:0` with extra args and
// waits for it to say where it listens.
func startHub(t testing.TB, root string, args ...string) *hubProcess {
	t.Helper()
	bin := berthBinary(t)
	all := append([]string{"hub", "serve", "--addr", "127.0.0.1:0", "--root", root}, args...)
	cmd := exec.Command(bin, all...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &hubProcess{cmd: cmd, Root: root, log: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	cmd.Stderr = lockedWriter{p}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "berth hub serving on "); ok {
				addr, _, _ := strings.Cut(rest, " ")
				addrc <- addr
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case p.Addr = <-addrc:
	case <-p.done:
		t.Fatalf("berth hub serve exited: %s", p.Log())
	case <-time.After(30 * time.Second):
		p.Kill()
		t.Fatalf("berth hub serve did not start: %s", p.Log())
	}
	t.Cleanup(p.Kill)
	return p
}

type lockedWriter struct{ p *hubProcess }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.log.Write(b)
}

// Log is what the hub wrote to stderr so far.
func (p *hubProcess) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Kill ends the hub with SIGKILL, as a crash would.
func (p *hubProcess) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop ends the hub with SIGTERM and waits for a clean exit.
func (p *hubProcess) Stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.Kill()
		t.Fatalf("hub did not stop on SIGTERM: %s", p.Log())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("hub exited %d after SIGTERM: %s", code, p.Log())
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
