package errkind

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

func TestNew(t *testing.T) {
	err := New(errdefs.ErrNotFound, "No such container: %s", "x")
	if err.Error() != "No such container: x" || !errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("%v", err)
	}
	wrapped := New(errdefs.ErrInvalid, "open: %w", fs.ErrNotExist)
	if !errors.Is(wrapped, fs.ErrNotExist) || !errors.Is(wrapped, errdefs.ErrInvalid) || wrapped.Error() != "open: file does not exist" {
		t.Errorf("%v", wrapped)
	}
}
