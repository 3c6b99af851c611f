package errdefs

import "errors"

// Kinds of a process that could not be started in a container (run, start,
// exec). They are kinds of their own, not ErrNotFound, because the CLI
// answers them with Docker's exit codes (127 and 126), which no other
// missing thing gets; the runtime wraps them with runc's message.
var (
	// ErrCommandNotFound: the command does not exist in the container.
	ErrCommandNotFound = errors.New("command not found")
	// ErrCommandNotExecutable: the command exists but cannot be executed.
	ErrCommandNotExecutable = errors.New("command cannot be executed")
)
