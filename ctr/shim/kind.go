package shim

import (
	"errors"

	"github.com/berth-dev/berth/ctr/runc"
)

// Kind is the kind of a failure the shim reports to its starter (Ready)
// or to a client (Response). It crosses the socket as a typed value, so
// that the client gets back an error errors.Is matches (a missing command
// must reach the CLI as errdefs.ErrCommandNotFound for exit code 127)
// rather than a message to be read again. kindOf and Kind.Err are the one
// mapping, server side and client side.
type Kind string

const (
	// KindNone: an error of no kind the client tells apart.
	KindNone Kind = ""
	// KindNotFound: the command does not exist (errdefs.ErrCommandNotFound).
	KindNotFound Kind = "notfound"
	// KindPermission: the command cannot be executed
	// (errdefs.ErrCommandNotExecutable).
	KindPermission Kind = "permission"
	// KindNotRunning: the container is not running (ErrNotRunning).
	KindNotRunning Kind = "notrunning"
)

// kindOf is the kind of err, for a reply.
func kindOf(err error) Kind {
	switch {
	case errors.Is(err, runc.ErrNotFound):
		return KindNotFound
	case errors.Is(err, runc.ErrPermission):
		return KindPermission
	case errors.Is(err, ErrNotRunning):
		return KindNotRunning
	}
	return KindNone
}

// Err is the error a reply of kind k with message msg stands for; msg ""
// means no error.
func (k Kind) Err(msg string) error {
	if msg == "" {
		return nil
	}
	switch k {
	case KindNotRunning:
		return ErrNotRunning
	case KindNotFound:
		return &runc.Error{Msg: msg, Kind: runc.ErrNotFound}
	case KindPermission:
		return &runc.Error{Msg: msg, Kind: runc.ErrPermission}
	}
	return errors.New(msg)
}

// errorResponse is the reply that reports err with its kind.
func errorResponse(err error) Response {
	return Response{Error: err.Error(), Kind: kindOf(err)}
}
