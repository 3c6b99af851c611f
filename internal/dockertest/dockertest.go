// Package dockertest starts a private, real dockerd for interop tests: berth's
// behaviour is checked against Docker itself, not against a memory of it.
//
// The daemon gets its own data root, exec root and socket under a temporary
// directory, no iptables and no bridge, so several test binaries can each run
// one at once. Tests skip, saying why, when not root or dockerd is missing.
package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Daemon is a running dockerd and the docker CLI pointed at it.
type Daemon struct {
	Host string // DOCKER_HOST value, unix://...
	Dir  string
	cmd  *exec.Cmd
	logf *os.File
}

var (
	shared     *Daemon
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns the package's daemon, starting it on first use. Call Stop
// from TestMain after m.Run so it does not outlive the test binary.
func Shared(t testing.TB) *Daemon {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		if os.Geteuid() != 0 || isMissing(sharedErr) {
			t.Skipf("SKIPPED: no real dockerd for this interop test: %v", sharedErr)
		}
		t.Fatalf("starting dockerd: %v", sharedErr)
	}
	return shared
}

// Stop stops the shared daemon if one was started.
func Stop() {
	if shared != nil {
		shared.Stop()
	}
}

type missingError struct{ error }

func isMissing(err error) bool { _, ok := err.(missingError); return ok }

func start() (*Daemon, error) {
	if os.Geteuid() != 0 {
		return nil, missingError{fmt.Errorf("dockerd needs root")}
	}
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, missingError{fmt.Errorf("dockerd is not installed (apt-get install docker.io): %w", err)}
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, missingError{fmt.Errorf("the docker CLI is not installed: %w", err)}
	}
	// Short paths: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "dkt")
	if err != nil {
		return nil, err
	}
	d := &Daemon{Dir: dir, Host: "unix://" + filepath.Join(dir, "d.sock")}
	d.logf, err = os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bin,
		"--data-root", filepath.Join(dir, "root"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", d.Host,
		"--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
		"--storage-driver=overlay2",
	)
	d.cmd.Stdout, d.cmd.Stderr = d.logf, d.logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", strings.TrimPrefix(d.Host, "unix://")); err == nil {
			c.Close()
			if _, err := d.run(context.Background(), nil, "version"); err == nil {
				return d, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.Stop()
	log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
	return nil, fmt.Errorf("dockerd did not answer within 60s; its log:\n%s", tail(log, 2000))
}

// Stop ends the daemon and removes its directory.
func (d *Daemon) Stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	if d.logf != nil {
		d.logf.Close()
	}
	// Mounts under the data root are gone once dockerd exits cleanly.
	_ = os.RemoveAll(d.Dir)
}

// Docker runs the docker CLI against the daemon and returns its stdout,
// failing the test on a non-zero exit.
func (d *Daemon) Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.run(context.Background(), nil, args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// DockerIn is Docker with stdin.
func (d *Daemon) DockerIn(t testing.TB, stdin []byte, args ...string) string {
	t.Helper()
	out, err := d.run(context.Background(), stdin, args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// Try runs the docker CLI and returns stdout and the error, for commands
// expected to fail.
func (d *Daemon) Try(args ...string) (string, error) {
	return d.run(context.Background(), nil, args...)
}

func (d *Daemon) run(ctx context.Context, stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+filepath.Join(d.Dir, "cli"))
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
