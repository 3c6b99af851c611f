package store

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/retry"
)

// CauseFirst returns a local write error (no space, read-only filesystem,
// quota) reworded so its cause comes first, with the store's root, then
// where it happened: "no space left on device in /var/lib/berth: layer
// sha256:…: layer entry "x": writing file content". Deep in a layer's
// wrapping the cause reads as a detail of the layer; it is what the user
// must act on. Any other error is returned as it is. The result still
// wraps err, so errors.Is finds the errno and every kind it carried.
func (s *Store) CauseFirst(err error) error {
	var errno syscall.Errno
	var done *causeFirst
	if err == nil || !retry.LocalWrite(err) || errors.As(err, &done) || IsLimit(err) || !errors.As(err, &errno) {
		return err
	}
	where := strings.TrimSuffix(err.Error(), ": "+errno.Error())
	return &causeFirst{msg: fmt.Sprintf("%s in %s: %s", errno.Error(), s.root, where), err: err}
}

type causeFirst struct {
	msg string
	err error
}

func (e *causeFirst) Error() string { return e.msg }
func (e *causeFirst) Unwrap() error { return e.err }
