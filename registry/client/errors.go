package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// Error is a registry's refusal: the HTTP status and the first entry of the
// distribution spec's error body, when there is one.
type Error struct {
	Status  int
	Code    string // "MANIFEST_UNKNOWN", "DENIED", ...; "" when the body had none
	Message string
	Method  string
	URL     string // without query
	// retryAfter is the wait the registry asked for with Retry-After.
	retryAfter time.Duration
}

// Transient reports a refusal that may pass: a 5xx, a 429.
func (e *Error) Transient() bool { return transientStatus(e.Status) }

// RetryAfter is the wait the registry asked for, for retry to honour.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// Error words it as Docker does: "manifest unknown: manifest unknown".
func (e *Error) Error() string {
	if e.Code != "" {
		msg := strings.ToLower(strings.ReplaceAll(e.Code, "_", " "))
		if e.Message != "" {
			msg += ": " + e.Message
		}
		return msg
	}
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("unexpected status from %s request to %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
}

// Unwrap maps the status and code to berth's error kinds.
func (e *Error) Unwrap() error {
	switch e.Code {
	case "BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN", "REFERRERS_UNKNOWN":
		return errdefs.ErrNotFound
	case "UNAUTHORIZED":
		return errdefs.ErrUnauthorized
	case "DENIED":
		return errdefs.ErrDenied
	case "DIGEST_INVALID":
		return errdefs.ErrDigestMismatch
	case "UNSUPPORTED":
		return errdefs.ErrUnsupported
	case "MANIFEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "NAME_INVALID", "TAG_INVALID", "SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID", "MANIFEST_UNVERIFIED":
		return errdefs.ErrInvalid
	}
	switch e.Status {
	case http.StatusNotFound:
		return errdefs.ErrNotFound
	case http.StatusUnauthorized:
		return errdefs.ErrUnauthorized
	case http.StatusForbidden:
		return errdefs.ErrDenied
	case http.StatusBadRequest:
		return errdefs.ErrInvalid
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return errdefs.ErrUnsupported
	}
	return nil
}

// NetworkError is a transfer that failed below HTTP (a reset connection, a
// stall, a truncated body) after its retries were used up.
type NetworkError struct {
	Op  string // "GET http://host/v2/..."
	Err error
	// Temporary is set for failures that may pass (a reset, a stall, a
	// truncated body), not for a refused connection or a TLS failure.
	Temporary bool
}

func (e *NetworkError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *NetworkError) Unwrap() error { return e.Err }

// Transient tells retry whether the failure may pass.
func (e *NetworkError) Transient() bool { return e.Temporary }

// IsNetwork reports whether err is, or wraps, a NetworkError.
func IsNetwork(err error) bool {
	var ne *NetworkError
	return errors.As(err, &ne)
}

// IsTransient reports a failure that may go away when tried again: a
// temporary network error, a registry's 5xx or 429, or an upload out of
// step with the registry (a new upload can succeed).
func IsTransient(err error) bool {
	if errors.Is(err, errOutOfStep) {
		return true
	}
	var ne *NetworkError
	if errors.As(err, &ne) {
		return ne.Temporary
	}
	var e *Error
	return errors.As(err, &e) && transientStatus(e.Status)
}

// readError reads a registry's error body ({"errors":[{"code","message"}]})
// and closes it.
func readError(resp *http.Response, method string, u *url.URL) *Error {
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode, Method: method, URL: redact(u), retryAfter: retryAfter(resp)}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		// Token servers answer in several shapes.
		Details          string `json:"details"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &env) == nil {
		switch {
		case len(env.Errors) > 0:
			e.Code, e.Message = env.Errors[0].Code, env.Errors[0].Message
		case env.ErrorDescription != "":
			e.Message = env.ErrorDescription
		case env.Details != "":
			e.Message = env.Details
		case env.Error != "":
			e.Message = env.Error
		}
	}
	if resp.StatusCode == http.StatusUnauthorized && e.Code == "" {
		e.Code = "UNAUTHORIZED"
		if e.Message == "" {
			e.Message = "authentication required"
		}
	}
	return e
}
