package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestNewf(t *testing.T) {
	inner := errors.New("disk on fire")
	err := Newf(ErrConflict, "cannot do it: %w", inner)
	if err.Error() != "cannot do it: disk on fire" {
		t.Errorf("text %q", err)
	}
	if !errors.Is(err, ErrConflict) || !errors.Is(err, inner) || errors.Is(err, ErrNotFound) {
		t.Error("kinds not matched")
	}
	wrapped := fmt.Errorf("outer: %w", err)
	if !IsConflict(wrapped) {
		t.Error("wrapped kind lost")
	}
}
