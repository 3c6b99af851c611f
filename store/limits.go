package store

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// Limits cap how much layers may expand when unpacked. A tar declares each
// file's size in its header, and a sparse file's holes cost the tar
// nothing: a 150-byte gzipped layer can declare 300 GB, or exabytes.
// Sizes count as the tar declares them, holes included (what the layer's
// tar holds, and what reading the stream costs in time); the holes
// themselves are left as holes on disk.
type Limits struct {
	// LayerBytes caps one layer's files; 0 means DefaultLayerBytes, below 0
	// no cap. A layer is also refused when it would not fit in the space
	// free in the store when it starts.
	LayerBytes int64
	// PullBytes caps all the layers of one pull (a Budget); 0 means
	// DefaultPullBytes, below 0 no cap. A pull is also refused when its
	// layers would not fit in the space free when it starts.
	PullBytes int64
}

// The default caps: above the largest images in common use (CUDA and ML
// images reach 20 GB), far below what a hostile tar can declare.
const (
	DefaultLayerBytes = 64 << 30
	DefaultPullBytes  = 256 << 30
)

// SetLimits changes the caps for the layers unpacked from now on.
func (s *Store) SetLimits(l Limits) {
	s.limits.Store(&l)
}

func (s *Store) limitsNow() Limits {
	l := Limits{}
	if p := s.limits.Load(); p != nil {
		l = *p
	}
	if l.LayerBytes == 0 {
		l.LayerBytes = DefaultLayerBytes
	}
	if l.PullBytes == 0 {
		l.PullBytes = DefaultPullBytes
	}
	return l
}

// Budget is what the layers of one pull may still unpack, shared by the
// layers unpacking at once: the pull's cap, or the space free when the
// pull started if that is less.
type Budget struct {
	cap, free int64 // -1: none
	root      string
	used      atomic.Int64
}

// NewBudget starts the budget of one pull.
func (s *Store) NewBudget() (*Budget, error) {
	free, err := s.freeBytes()
	if err != nil {
		return nil, err
	}
	return &Budget{cap: max(s.limitsNow().PullBytes, -1), free: free, root: s.root}, nil
}

// freeBytes is the space this process may still use in the store.
func (s *Store) freeBytes() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.root, &st); err != nil {
		return 0, fmt.Errorf("free space in %s: %w", s.root, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// layerBudget counts what one layer unpacks, against its own cap, the
// space free when it started, and its pull's budget.
type layerBudget struct {
	layer string // the layer, as errors name it
	used  int64
	self  Budget
	pull  *Budget
}

func (s *Store) newLayerBudget(u Unpack) (*layerBudget, error) {
	free, err := s.freeBytes()
	if err != nil {
		return nil, err
	}
	lb := &layerBudget{layer: displayBlob(u), pull: u.Budget}
	lb.self = Budget{cap: max(s.limitsNow().LayerBytes, -1), free: free, root: s.root}
	return lb, nil
}

// reserve counts n more bytes about to be unpacked, or says which limit
// they would pass.
func (lb *layerBudget) reserve(n int64) error {
	lb.used += n
	if err := lb.self.check(lb.used, "a layer", "would unpack to", lb.layer); err != nil {
		return err
	}
	if lb.pull == nil {
		return nil
	}
	total := lb.pull.used.Add(n)
	return lb.pull.check(total, "a pull", "would take the pull to", lb.layer)
}

// check refuses a total past the tighter of the cap and the space free,
// and says which.
func (b *Budget) check(total int64, what, verb, layer string) error {
	switch {
	case b.cap >= 0 && b.cap < b.free:
		if total > b.cap {
			return &LimitError{msg: fmt.Sprintf("layer %s %s %s, more than the %s %s may unpack to (store.Limits)", layer, verb, size(total), size(b.cap), what), kind: errdefs.ErrInvalid}
		}
	case total > b.free:
		return &LimitError{msg: fmt.Sprintf("layer %s %s %s, more than the %s free in %s", layer, verb, size(total), size(b.free), b.root), kind: syscall.ENOSPC}
	}
	return nil
}

func size(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// LimitError is a layer refused because it would unpack to more than a
// cap or the space free. Its text says it all: wrapping it in the entry
// and layer it happened in would only bury it. It is syscall.ENOSPC when
// the space free is what it passes (a local condition, not retried), else
// errdefs.ErrInvalid.
type LimitError struct {
	msg  string
	kind error
}

func (e *LimitError) Error() string { return e.msg }
func (e *LimitError) Unwrap() error { return e.kind }

// IsLimit reports a layer refused for what it would unpack to.
func IsLimit(err error) bool {
	var le *LimitError
	return errors.As(err, &le)
}

// asLimit returns the LimitError err wraps, so it is returned as it is.
func asLimit(err error) (error, bool) {
	var le *LimitError
	if errors.As(err, &le) {
		return le, true
	}
	return err, false
}
