// Package errkind makes errors of one of errdefs' kinds whose text is the
// message alone, worded as Docker words it ("No such container: x"), without
// the kind's own text appended. It mirrors errdefs.Newf on the main branch;
// the runtime moves to that once the branches meet.
package errkind

import "fmt"

// New returns an error of kind (matched with errors.Is) reading as the
// formatted message; %w in format wraps as usual.
func New(kind error, format string, a ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, a...)}
}

type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }

func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }
