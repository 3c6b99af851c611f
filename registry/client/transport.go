package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// roundTrip sends the request build makes, retrying transient failures
// (network errors, 5xx, 429) with backoff when retry is set. It returns
// the response of the last attempt.
func (c *Client) roundTrip(ctx context.Context, hc *http.Client, build func() (*http.Request, error), retry bool) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		last := !retry || attempt >= c.opts.Retries
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if last || !transientNetErr(err) {
				var ue *url.Error
				if errors.As(err, &ue) {
					err = ue.Err // the operation is said once, without the query
				}
				return nil, &NetworkError{Op: req.Method + " " + redact(req.URL), Err: err, Temporary: transientNetErr(err)}
			}
			if err := sleep(ctx, c.backoff(attempt)); err != nil {
				return nil, err
			}
			continue
		}
		if !last && transientStatus(resp.StatusCode) {
			wait := c.backoff(attempt)
			if ra := retryAfter(resp); ra > wait {
				wait = ra
			}
			drain(resp)
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		return resp, nil
	}
}

// backoff is the delay before retry n (0-based): Backoff doubled each
// time, at most 8s, with jitter so parallel transfers do not retry in step.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.Backoff << min(n, 5)
	if d > 8*time.Second {
		d = 8 * time.Second
	}
	return d/2 + rand.N(d/2+1)
}

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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func transientStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout ||
		code == http.StatusInternalServerError || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// transientNetErr reports a failure worth retrying: a reset connection,
// an early EOF, a timeout. A refused connection, TLS and certificate
// errors, and redirect loops are not.
func transientNetErr(err error) bool {
	// Nothing listening is a registry that is down, not a blip: say so at
	// once rather than after a minute of retries.
	if isTLSMismatch(err) || strings.Contains(err.Error(), "stopped after") || errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	var cerr *tls.CertificateVerificationError
	if errors.As(err, &cerr) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
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
