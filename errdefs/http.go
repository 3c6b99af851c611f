package errdefs

import (
	"errors"
	"net/http"
)

// HTTPStatus is the HTTP status an error of each kind answers with by
// default: the one map the hub's JSON API, the dashboard and the Engine
// API share. The registry API keeps its own error-code table (the
// distribution spec's codes do not follow from the kind alone) and falls
// back to this for anything else. An error of no kind is a 500.
func HTTPStatus(err error) int {
	for _, m := range statusByKind {
		if errors.Is(err, m.kind) {
			return m.status
		}
	}
	return http.StatusInternalServerError
}

// statusByKind is checked in order: an error may wrap several kinds, and
// the first listed wins.
var statusByKind = []struct {
	kind   error
	status int
}{
	{ErrNotFound, http.StatusNotFound},
	{ErrInvalid, http.StatusBadRequest},
	{ErrUnsupported, http.StatusBadRequest},
	{ErrDigestMismatch, http.StatusBadRequest},
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrDenied, http.StatusForbidden},
	{ErrConflict, http.StatusConflict},
	{ErrAlreadyExists, http.StatusConflict},
}
