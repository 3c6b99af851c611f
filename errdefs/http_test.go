package errdefs

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{Newf(ErrNotFound, "No such image: x"), http.StatusNotFound},
		{fmt.Errorf("parse: %w", ErrInvalid), http.StatusBadRequest},
		{ErrUnsupported, http.StatusBadRequest},
		{fmt.Errorf("layer: %w", ErrDigestMismatch), http.StatusBadRequest},
		{ErrUnauthorized, http.StatusUnauthorized},
		{ErrDenied, http.StatusForbidden},
		{Newf(ErrConflict, "in use"), http.StatusConflict},
		{ErrAlreadyExists, http.StatusConflict},
		{errors.New("disk on fire"), http.StatusInternalServerError},
		{nil, http.StatusInternalServerError},
	} {
		if got := HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
