package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/retry"
)

// roundTrip sends the request build makes, retrying transient failures
// (network errors, 5xx, 429) with the client's policy when retried is
// set. It returns the response of the last attempt. A stall above zero
// watches the request (see watchdog).
func (c *Client) roundTrip(ctx context.Context, hc *http.Client, build func() (*http.Request, error), retried bool, stall time.Duration) (*http.Response, error) {
	p := c.opts.Retry
	if !retried {
		p.Attempts = 1
	}
	var resp *http.Response
	err := retry.Do(ctx, p, func(attempt int) error {
		r, err := c.send1(ctx, hc, build, stall)
		if err != nil {
			return err
		}
		// The last answer is the caller's to read, whatever its status.
		if attempt+1 < p.Attempts && transientStatus(r.StatusCode) {
			drain(r)
			return &statusError{status: r.StatusCode, retryAfter: retryAfter(r)}
		}
		resp = r
		return nil
	})
	return resp, err
}

// statusError is an answer refused for a while (5xx, 429) that is tried
// again; it never leaves roundTrip.
type statusError struct {
	status     int
	retryAfter time.Duration
}

func (e *statusError) Error() string             { return http.StatusText(e.status) }
func (e *statusError) Transient() bool           { return true }
func (e *statusError) RetryAfter() time.Duration { return e.retryAfter }

// send1 sends one request. A network failure is a NetworkError.
func (c *Client) send1(ctx context.Context, hc *http.Client, build func() (*http.Request, error), stall time.Duration) (*http.Response, error) {
	req, err := build()
	if err != nil {
		return nil, err
	}
	var w *watchdog
	if stall > 0 {
		req, w = watch(req, stall)
	}
	resp, err := hc.Do(req)
	if w != nil {
		if err != nil {
			w.stop()
			if w.stalled() {
				err = w.err()
			}
		} else {
			resp.Body = &watchedAnswer{ReadCloser: resp.Body, w: w}
			w.answered()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the operation is said once, without the query
		}
		return nil, &NetworkError{Op: req.Method + " " + redact(req.URL), Err: err, Temporary: retry.Network(err)}
	}
	return resp, nil
}

// retryAfter is how long a 429 or 503 asks to wait; retry caps it.
func retryAfter(resp *http.Response) time.Duration {
	s := resp.Header.Get("Retry-After")
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 30*time.Second)
	}
	if t, err := http.ParseTime(s); err == nil {
		return min(max(time.Until(t), 0), 30*time.Second)
	}
	return 0
}

func transientStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout ||
		code == http.StatusInternalServerError || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// redact is a URL fit for an error message: no user info, no query (upload
// locations may carry state tokens).
func redact(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	return v.String()
}

// drain reads a little of a body so the connection can be reused, then
// closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// ErrStalled is wrapped by the error of a transfer that made no progress
// for the client's StallTimeout. It is retry's, so that retry knows it
// for transient.
var ErrStalled = retry.ErrStalled

// watchdog ends a request that makes no progress. Go's transport has no
// timeout for writing a body: an upload to a registry, or through a path,
// that stopped reading blocks forever, and the wait for the answer's head
// only starts once the body is written. So a watched request fails when no
// byte of its body was taken for the stall time, when no answer came for
// twice that once the body was sent (a registry may take a while to close
// a big blob), or when no byte of the answer's body came for the stall
// time. The error wraps ErrStalled and is transient: an upload resumes.
type watchdog struct {
	stall   time.Duration
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	done    atomic.Bool
	waiting atomic.Bool // the body is sent, the answer not yet here
}

func watch(req *http.Request, stall time.Duration) (*http.Request, *watchdog) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watchdog{stall: stall, ctx: ctx, cancel: cancel}
	first := stall
	if req.Body == nil || req.Body == http.NoBody {
		first = 2 * stall
		w.waiting.Store(true)
	}
	w.timer = time.AfterFunc(first, func() { cancel(ErrStalled) })
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		size := req.ContentLength
		req.Body = &watchedBody{ReadCloser: req.Body, w: w, left: size}
		if gb := req.GetBody; gb != nil {
			// A body the transport rewinds to send again is watched too.
			req.GetBody = func() (io.ReadCloser, error) {
				b, err := gb()
				if err != nil {
					return nil, err
				}
				return &watchedBody{ReadCloser: b, w: w, left: size}, nil
			}
		}
	}
	return req, w
}

// progress pushes the deadline back: the stall time while the body goes
// out or the answer comes in, twice that while the registry works.
func (w *watchdog) progress(sent bool) {
	if w.done.Load() {
		return
	}
	if sent {
		w.waiting.Store(true)
	}
	d := w.stall
	if w.waiting.Load() {
		d = 2 * w.stall
	}
	w.timer.Reset(d)
}

// answered is called when the answer's head has come.
func (w *watchdog) answered() {
	w.waiting.Store(false)
	w.progress(false)
}

func (w *watchdog) stalled() bool { return errors.Is(context.Cause(w.ctx), ErrStalled) }

func (w *watchdog) err() error {
	if w.waiting.Load() {
		return fmt.Errorf("%w: no answer for %s after the request was sent", ErrStalled, 2*w.stall)
	}
	return fmt.Errorf("%w: nothing sent or received for %s", ErrStalled, w.stall)
}

// stop ends the watch and releases the request's context.
func (w *watchdog) stop() {
	if w.done.CompareAndSwap(false, true) {
		w.timer.Stop()
		w.cancel(nil)
	}
}

// watchedBody is a request body that tells the watchdog how it goes.
type watchedBody struct {
	io.ReadCloser
	w    *watchdog
	left int64 // bytes still to send; negative when the length is unknown
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if n > 0 || err != nil {
		b.w.progress(err != nil || b.left == 0)
	}
	return n, err
}

// watchedAnswer is an answer's body under the watchdog; closing it ends
// the watch.
type watchedAnswer struct {
	io.ReadCloser
	w *watchdog
}

func (a *watchedAnswer) Read(p []byte) (int, error) {
	n, err := a.ReadCloser.Read(p)
	if n > 0 {
		a.w.progress(false)
	}
	if err != nil && err != io.EOF && a.w.stalled() {
		err = a.w.err()
	}
	return n, err
}

func (a *watchedAnswer) Close() error {
	err := a.ReadCloser.Close()
	a.w.stop()
	return err
}
