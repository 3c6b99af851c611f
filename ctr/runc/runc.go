// Package runc drives the runc binary: the commands berth's shim and manager
// use, and the reading of runc's errors, which tell a missing command (exit
// code 127 for Docker) from one that cannot be executed (126).
package runc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// Runc runs one runc binary with one state directory.
type Runc struct {
	// Path of the binary.
	Path string
	// Root is runc's state directory (--root); on tmpfs it is gone after a
	// reboot, as the containers are.
	Root string
}

// Find returns the runc binary: the one on PATH, else Debian's.
func Find() (string, error) {
	if p, err := exec.LookPath("runc"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("runc not found: install it (Debian package runc)")
}

// IO are the standard streams given to a process started by runc; nil
// means /dev/null.
type IO struct {
	Stdin, Stdout, Stderr *os.File
}

// RunOptions start a container's first process.
type RunOptions struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string // with a terminal: where runc sends the pty master
	LogFile       string
	IO            IO
}

func (r *Runc) cmd(logFile string, args ...string) *exec.Cmd {
	all := []string{"--root", r.Root}
	if logFile != "" {
		all = append(all, "--log", logFile, "--log-format", "json")
	}
	cmd := exec.Command(r.Path, append(all, args...)...)
	cmd.Env = cleanEnv
	return cmd
}

// cleanEnv is runc's whole environment: nothing of the caller's reaches it.
var cleanEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

func withIO(cmd *exec.Cmd, io IO) *exec.Cmd {
	// Only *os.File values: exec passes them as they are, with no copying
	// goroutines that would need cmd.Wait (the shim's reaper waits).
	if io.Stdin != nil {
		cmd.Stdin = io.Stdin
	}
	if io.Stdout != nil {
		cmd.Stdout = io.Stdout
	}
	if io.Stderr != nil {
		cmd.Stderr = io.Stderr
	}
	return cmd
}

// RunCommand is `runc run --detach`: one invocation that creates and starts
// the container, and returns once its process runs.
func (r *Runc) RunCommand(id string, o RunOptions) *exec.Cmd {
	args := []string{"run", "--detach", "--bundle", o.Bundle, "--pid-file", o.PidFile}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	return withIO(r.cmd(o.LogFile, append(args, id)...), o.IO)
}

// ExecOptions start a further process in a running container.
type ExecOptions struct {
	ProcessFile   string // the process as JSON (runc exec --process)
	PidFile       string
	ConsoleSocket string
	LogFile       string
	IO            IO
}

// ExecCommand is `runc exec --detach`.
func (r *Runc) ExecCommand(id string, o ExecOptions) *exec.Cmd {
	args := []string{"exec", "--detach", "--process", o.ProcessFile, "--pid-file", o.PidFile}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	return withIO(r.cmd(o.LogFile, append(args, id)...), o.IO)
}

// Delete removes the container's runc state and cgroup; force kills it
// first if it still runs. A container runc does not know is not an error.
func (r *Runc) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	out, err := r.output(ctx, append(args, id)...)
	if err != nil && !strings.Contains(out, "does not exist") && !strings.Contains(out, "not exist") {
		return fmt.Errorf("runc delete %s: %s: %w", id, strings.TrimSpace(out), err)
	}
	return nil
}

// State is what `runc state` reports.
type State struct {
	Status string `json:"status"` // created, running, stopped, paused
	Pid    int    `json:"pid"`
}

// State returns the container's state, nil when runc does not know it.
func (r *Runc) State(ctx context.Context, id string) (*State, error) {
	out, err := r.output(ctx, "state", id)
	if err != nil {
		if strings.Contains(out, "does not exist") {
			return nil, nil
		}
		return nil, fmt.Errorf("runc state %s: %s: %w", id, strings.TrimSpace(out), err)
	}
	var s State
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return nil, fmt.Errorf("runc state %s: %w", id, err)
	}
	return &s, nil
}

func (r *Runc) output(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, r.Path, append([]string{"--root", r.Root}, args...)...)
	cmd.Env = cleanEnv
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// Errors a failed start or exec is classified into, as Docker does.
var (
	// ErrNotFound: the command does not exist (Docker exits 127).
	ErrNotFound = errdefs.ErrCommandNotFound
	// ErrPermission: the command cannot be executed (Docker exits 126).
	ErrPermission = errdefs.ErrCommandNotExecutable
)

// Error is a failure runc reported.
type Error struct {
	Msg  string
	Kind error // ErrNotFound, ErrPermission or nil
}

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is match the kind.
func (e *Error) Unwrap() error { return e.Kind }

// Classify makes an Error of runc's message, sorting it the way Docker's
// daemon does.
func Classify(msg string) *Error {
	l := strings.ToLower(msg)
	e := &Error{Msg: msg}
	switch {
	case strings.Contains(l, "permission denied"), strings.Contains(l, "is a directory"):
		e.Kind = ErrPermission
	case strings.Contains(l, "executable file not found"), strings.Contains(l, "no such file or directory"), strings.Contains(l, "not a directory"):
		e.Kind = ErrNotFound
	}
	return e
}

// LogError returns the last error runc wrote to its JSON log, nil if there
// is none.
func LogError(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") {
			last = e.Msg
		}
	}
	if last == "" {
		return nil
	}
	return Classify(last)
}

// ReadPid reads a pid file runc wrote.
func ReadPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad pid file %s: %q", path, b)
	}
	return pid, nil
}
