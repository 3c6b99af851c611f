// Package errdefs holds the few kinds of error berth's packages return.
//
// Every package wraps one of these sentinels with context (fmt.Errorf("...: %w",
// errdefs.ErrNotFound)); callers match the kind with errors.Is. The kinds are
// mapped once to HTTP status codes (the hub) and once to CLI exit codes.
package errdefs

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: the named thing does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the operation clashes with the current state (an image in use).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the caller's input is malformed.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnauthorized: credentials are missing or wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDenied: the credentials are right but do not grant the operation.
	ErrDenied = errors.New("denied")
	// ErrDigestMismatch: content did not hash to the digest it was announced with.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrUnsupported: well-formed input that berth does not handle.
	ErrUnsupported = errors.New("not supported")
	// ErrAlreadyExists: the thing to create is already there.
	ErrAlreadyExists = errors.New("already exists")
)

// IsNotFound reports whether err is, or wraps, ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err is, or wraps, ErrConflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsInvalid reports whether err is, or wraps, ErrInvalid.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// Newf returns an error of the given kind whose text is only the formatted
// message: for messages that already say what went wrong ("No such image:
// foo"), where ": not found" would be noise. %w in format wraps as usual.
func Newf(kind error, format string, a ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, a...)}
}

type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }

func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }
