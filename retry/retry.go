// Package retry is berth's one retry policy: how many times an operation
// is tried, how long to wait between tries, and which failures are worth
// another try. The registry client, pull, push and the store all retry
// through it, and each operation retries at one level only, so that the
// levels do not multiply.
package retry

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// Policy says how an operation is retried. The zero value tries once.
type Policy struct {
	// Attempts is how many times the operation is tried in all, the first
	// included, while it fails without making progress; below 1 means 1.
	Attempts int
	// Base is the wait after the first failure, doubled after each next
	// one, up to Max.
	Base time.Duration
	Max  time.Duration
	// Jitter is the part of each wait drawn at random (0 to 1): 0.5 waits
	// between half and all of it, so that parallel transfers that failed
	// together do not retry in step.
	Jitter float64
}

// Default is the policy of the registry client: five attempts, as Docker's
// max-download-attempts, the waits 250ms, 500ms, 1s, 2s, halved at random.
var Default = Policy{Attempts: 5, Base: 250 * time.Millisecond, Max: 8 * time.Second, Jitter: 0.5}

// maxFailures bounds the failures of one operation even when each made
// progress: a transfer that moves a byte between breaks is not worth
// following for ever.
const maxFailures = 100

// maxRetryAfter caps the wait a server asks for with Retry-After.
const maxRetryAfter = 30 * time.Second

// Delay is the wait after the nth failure in a row (from 1).
func (p Policy) Delay(n int) time.Duration {
	if p.Base <= 0 || n < 1 {
		return 0
	}
	d := p.Base << min(n-1, 20)
	if p.Max > 0 && (d > p.Max || d <= 0) {
		d = p.Max
	}
	j := min(max(p.Jitter, 0), 1)
	if j == 0 {
		return d
	}
	spread := time.Duration(float64(d) * j)
	return d - spread + rand.N(spread+1)
}

// Retrier counts the failures of one operation and waits between tries.
// Do is the simple way to use one; a loop that can tell progress (a
// transfer that resumes where it broke) uses it directly.
type Retrier struct {
	p      Policy
	inARow int // failures since the last progress
	all    int
}

// Start begins counting the failures of one operation.
func (p Policy) Start() *Retrier { return &Retrier{p: p} }

// Progress notes that the operation moved forward since its last failure:
// its failures in a row count from zero again.
func (r *Retrier) Progress() { r.inARow = 0 }

// Again is called with a failure worth retrying. It waits the policy's
// delay (or longer when the failure carries a server's Retry-After) and
// returns nil when the operation should be tried again, or err when its
// attempts are spent, or the context's error when it ends first.
func (r *Retrier) Again(ctx context.Context, err error) error {
	r.inARow++
	r.all++
	if r.inARow >= max(r.p.Attempts, 1) || r.all >= maxFailures {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	wait := r.p.Delay(r.inARow)
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		wait = max(wait, min(ra.RetryAfter(), maxRetryAfter))
	}
	if f, ok := ctx.Value(notifyKey{}).(func(time.Duration, error)); ok {
		f(wait, err)
	}
	return Sleep(ctx, wait)
}

// Do calls op until it succeeds or fails in a way Transient says is not
// worth another try, at most p.Attempts times. op hears the attempt's
// number, from 0.
func Do(ctx context.Context, p Policy, op func(attempt int) error) error {
	return DoIf(ctx, p, Transient, op)
}

// DoIf is Do with another judge of which failures are worth retrying: a
// caller whose transfers already retried themselves retries only what
// they cannot fix.
func DoIf(ctx context.Context, p Policy, retryable func(error) bool, op func(attempt int) error) error {
	r := p.Start()
	for attempt := 0; ; attempt++ {
		err := op(attempt)
		if err == nil {
			return nil
		}
		// Ended meanwhile, the operation's own error says more than the
		// context's.
		if ctx.Err() != nil || !retryable(err) {
			return err
		}
		if err := r.Again(ctx, err); err != nil {
			return err
		}
	}
}

type notifyKey struct{}

// WithNotify returns a context under which every retry calls f before its
// wait, with the wait and the failure: a layer's progress line says
// "Retrying in 2 seconds" whichever level of the transfer retries.
func WithNotify(ctx context.Context, f func(wait time.Duration, err error)) context.Context {
	return context.WithValue(ctx, notifyKey{}, f)
}

// Sleep waits for d, or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrStalled is wrapped by the error of a transfer that made no progress
// for its stall time. It is transient: the transfer resumes.
var ErrStalled = errors.New("transfer stalled")

// Transient reports a failure that may go away when tried again: one that
// says so (a registry's 5xx or 429, a temporary network error: their
// errors have a Transient method), bytes that did not match their digest
// (fetched again, they may), or a network failure (see Network). A
// context's end is never transient, and neither is a local write error
// (LocalWrite), even inside a digest error.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || LocalWrite(err) {
		return false
	}
	if errors.Is(err, errdefs.ErrDigestMismatch) {
		return true
	}
	var t interface{ Transient() bool }
	if errors.As(err, &t) {
		return t.Transient()
	}
	return Network(err)
}

// LocalWrite reports a failure to write on this machine: no space, a
// read-only filesystem, a quota. Fetching the bytes again cannot fix it,
// so it is never retried, whatever wraps it.
func LocalWrite(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT)
}

// Network reports a network failure worth retrying: a reset connection,
// an early EOF, a stall, a timeout. A refused connection (nothing
// listening is a registry that is down, not a blip: it is said at once
// rather than after a minute of retries), TLS and certificate errors, and
// redirect loops are not.
func Network(err error) bool {
	if isTLSMismatch(err) || strings.Contains(err.Error(), "stopped after") || errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	var cerr *tls.CertificateVerificationError
	if errors.As(err, &cerr) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, ErrStalled) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "server closed") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "transport connection broken")
}

// isTLSMismatch reports a server that does not speak TLS.
func isTLSMismatch(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}
