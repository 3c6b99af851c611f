package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

type status struct {
	transient bool
	after     time.Duration
}

func (s status) Error() string                   { return "status" }
func (s status) Transient() bool                 { return s.transient }
func (s status) RetryAfter() time.Duration       { return s.after }
func fast(attempts int) Policy                   { return Policy{Attempts: attempts} }
func failing(err error) func(int) error          { return func(int) error { return err } }
func counting(n *int, err error) func(int) error { return func(int) error { *n++; return err } }

func TestDoTriesAttemptsTimes(t *testing.T) {
	ctx := context.Background()
	n := 0
	err := Do(ctx, fast(4), counting(&n, io.ErrUnexpectedEOF))
	if n != 4 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a transient failure every time: %d tries, %v", n, err)
	}
	n = 0
	err = Do(ctx, fast(4), counting(&n, errdefs.ErrNotFound))
	if n != 1 || !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("a lasting failure: %d tries, %v", n, err)
	}
	n = 0
	if err := Do(ctx, Policy{}, counting(&n, io.EOF)); n != 1 || err == nil {
		t.Fatalf("the zero policy: %d tries, %v", n, err)
	}
	n = 0
	err = Do(ctx, fast(5), func(a int) error {
		n++
		if a < 2 {
			return status{transient: true}
		}
		return nil
	})
	if n != 3 || err != nil {
		t.Fatalf("success on the third try: %d tries, %v", n, err)
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), false},
		{fmt.Errorf("layer: %w", ErrStalled), true},
		{fmt.Errorf("blob: %w", errdefs.ErrDigestMismatch), true},
		{status{transient: true}, true},
		{fmt.Errorf("wrapped: %w", status{transient: false}), false},
		{errdefs.ErrNotFound, false},
		{context.Canceled, false},
		{fmt.Errorf("%w: %w", context.DeadlineExceeded, io.EOF), false},
		// A local write error is not the network's doing, even in a digest error.
		{fmt.Errorf("writing file content: %w", syscall.ENOSPC), false},
		{fmt.Errorf("hashed wrong (%w): %w", syscall.ENOSPC, errdefs.ErrDigestMismatch), false},
		{fmt.Errorf("rename: %w", syscall.EROFS), false},
		{fmt.Errorf("write: %w", syscall.EDQUOT), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestProgressRestartsTheCount(t *testing.T) {
	ctx := context.Background()
	r := fast(3).Start()
	for i := range 10 {
		if err := r.Again(ctx, io.EOF); err != nil {
			t.Fatalf("failure %d, each after progress, ended the operation: %v", i, err)
		}
		r.Progress()
	}
	var ends []bool
	for range 3 {
		ends = append(ends, r.Again(ctx, io.EOF) != nil)
	}
	if ends[0] || ends[1] || !ends[2] {
		t.Fatalf("three failures in a row, which ended it: %v; want the third", ends)
	}
}

func TestDelay(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
	p.Jitter = 0.5
	for range 100 {
		if d := p.Delay(2); d < 100*time.Millisecond || d > 200*time.Millisecond {
			t.Fatalf("Delay(2) with half jitter = %v, want within [100ms, 200ms]", d)
		}
	}
}

func TestRetryAfterAndNotify(t *testing.T) {
	var waits []time.Duration
	ctx := WithNotify(context.Background(), func(wait time.Duration, err error) { waits = append(waits, wait) })
	err := Do(ctx, Policy{Attempts: 2, Base: time.Millisecond}, failing(status{transient: true, after: 30 * time.Millisecond}))
	if err == nil || len(waits) != 1 || waits[0] != 30*time.Millisecond {
		t.Fatalf("Retry-After 30ms: waits %v, %v", waits, err)
	}
}

func TestCancelStopsTheWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	err := Do(ctx, Policy{Attempts: 3, Base: time.Minute}, failing(io.EOF))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("cancelled during a minute's wait: %v after %v", err, time.Since(start))
	}
}
