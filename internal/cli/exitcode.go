package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/errdefs"
)

// Exit codes as Docker uses them.
const (
	exitFailure      = 1
	exitBadUsage     = 125 // a flag berth does not know, a bad flag value; run and create failing
	exitCannotInvoke = 126
	exitNotFound     = 127
	exitCanceled     = 130
)

// exitCodeOf is the one map from a command's failure to berth's exit code,
// as Docker's CLI picks them:
//
//   - an error that carries its code (statusError: a flag or usage error,
//     a container's own exit code) exits with it;
//   - a command interrupted (SIGINT, SIGTERM) exits 130;
//   - run, create, start and exec: a command not found in the container
//     exits 127, one that cannot be executed 126;
//   - run and create: any other failure exits 125, berth itself having
//     failed where Docker's daemon would have;
//   - every other failure, of any command, exits 1.
func exitCodeOf(cmd string, err error) int {
	var se statusError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		return se.code
	case errors.Is(err, context.Canceled):
		return exitCanceled
	}
	switch cmd {
	case "run", "create", "start", "exec":
		switch {
		case errors.Is(err, errdefs.ErrCommandNotFound):
			return exitNotFound
		case errors.Is(err, errdefs.ErrCommandNotExecutable):
			return exitCannotInvoke
		}
	}
	switch cmd {
	case "run", "create":
		return exitBadUsage
	}
	return exitFailure
}

// saidError is a failure worded for the user as it is to be printed (no
// "Error: " before it); it keeps the error, whose kind picks the exit code.
type saidError struct {
	msg string
	err error
}

func (e saidError) Error() string { return e.msg }
func (e saidError) Unwrap() error { return e.err }

// containerError reports a failure of run or create as Docker's CLI does:
// "berth: <message>." (berth has no daemon to answer for it), and the help
// hint when the request itself was wrong.
func containerError(cmd *cobra.Command, err error, withHelp bool) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	msg := "berth: " + strings.TrimSuffix(err.Error(), ".") + "."
	if withHelp {
		msg += "\nSee '" + cmd.CommandPath() + " --help'."
	}
	return saidError{msg: msg, err: err}
}

// execError words a process that could not be run as Docker does: the
// runtime's message alone.
func execError(err error) error {
	if errors.Is(err, errdefs.ErrCommandNotFound) || errors.Is(err, errdefs.ErrCommandNotExecutable) {
		return saidError{msg: err.Error(), err: err}
	}
	return err
}
