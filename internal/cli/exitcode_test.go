package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

// exitCodeOf is the one map from a failure to an exit code: 126 and 127
// for a command that cannot run, only for the commands that run one; 125
// for run and create failing otherwise; 1 for every other command.
func TestExitCodeOf(t *testing.T) {
	notFound := fmt.Errorf("OCI runtime create failed: %w", errdefs.ErrCommandNotFound)
	notExec := fmt.Errorf("OCI runtime exec failed: %w", errdefs.ErrCommandNotExecutable)
	noImage := errdefs.Newf(errdefs.ErrNotFound, "No such image: nosuch")
	tests := []struct {
		cmd  string
		err  error
		want int
	}{
		{"run", nil, 0},
		{"run", exitStatus(3), 3},
		{"run", statusError{msg: "unknown flag: --bogus", code: exitBadUsage}, 125},
		{"run", notFound, 127},
		{"run", saidError{msg: "berth: x.", err: notFound}, 127},
		{"create", notExec, 126},
		{"start", notFound, 127},
		{"exec", notExec, 126},
		{"run", noImage, 125},
		{"create", errors.New("broken"), 125},
		{"start", noImage, 1},
		{"exec", errors.New("container is not running"), 1},
		{"rmi", noImage, 1},
		{"rmi", notFound, 1},
		{"ps", errdefs.Newf(errdefs.ErrInvalid, "Invalid filter 'x'"), 1},
		{"run", context.Canceled, 130},
		{"pull", fmt.Errorf("interrupted: %w", context.Canceled), 130},
	}
	for _, tt := range tests {
		if got := exitCodeOf(tt.cmd, tt.err); got != tt.want {
			t.Errorf("exitCodeOf(%q, %v) = %d, want %d", tt.cmd, tt.err, got, tt.want)
		}
	}
}

// The exit codes of failures that need no container runtime, end to end.
func TestExitCodesBeforeAnyContainer(t *testing.T) {
	b := newBerth(t)
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"run", "--bogus"}, 125, "unknown flag: --bogus\nSee 'berth run --help'.\n"},
		{[]string{"create", "--bogus"}, 125, "unknown flag: --bogus\nSee 'berth create --help'.\n"},
		{[]string{"exec", "--bogus", "c", "true"}, 125, "unknown flag: --bogus"},
		{[]string{"run", "-p", "abc", "img"}, 125, "berth: invalid containerPort: abc.\nSee 'berth run --help'.\n"},
		{[]string{"run", "--detach-keys", "ctrl-1", "img"}, 125, "berth: Unknown character: 'ctrl-1'."},
		{[]string{"rmi", "nosuch"}, 1, "Error: No such image: nosuch\n"},
		{[]string{"image", "rm", "nosuch"}, 1, "Error: No such image: nosuch\n"},
	}
	for _, tt := range tests {
		_, stderr, code := b.try("", tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("berth %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.stderr)
		}
	}
}

// start -a and exec exit as run does when the command cannot run.
func TestStartAndExecExitCodes(t *testing.T) {
	b := withImage(t)
	b.run("create", "--name", "missing", "img", "nosuchcmd")
	if _, errs, code := b.try("", "start", "-a", "missing"); code != 127 || !strings.Contains(errs, "executable file not found") {
		t.Errorf("start -a of a missing command: exit %d, %q", code, errs)
	}
	b.run("run", "-d", "--name", "box", "img", "sleep", "1000")
	if _, errs, code := b.try("", "exec", "box", "/etc/passwd"); code != 126 || !strings.Contains(errs, "permission denied") {
		t.Errorf("exec of a file that is not executable: exit %d, %q", code, errs)
	}
	if out, _, code := b.try("", "exec", "box", "sh", "-c", "echo x; exit 3"); code != 3 || out != "x\n" {
		t.Errorf("exec's own exit code: %d %q", code, out)
	}
}
