package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berth-dev/berth/errdefs"
)

// Error codes of the OCI distribution spec, with their HTTP statuses. The
// registry API answers from this table, not from errdefs.HTTPStatus alone:
// the spec's codes do not follow from an error's kind (MANIFEST_BLOB_UNKNOWN
// is a 400, UNAUTHORIZED a 401 where DENIED is a 403). An error the table
// has no code for gets errdefs.HTTPStatus's status.
type errorCode struct {
	Code   string
	Status int
}

var (
	codeBlobUnknown         = errorCode{"BLOB_UNKNOWN", http.StatusNotFound}
	codeBlobUploadInvalid   = errorCode{"BLOB_UPLOAD_INVALID", http.StatusBadRequest}
	codeBlobUploadUnknown   = errorCode{"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound}
	codeDigestInvalid       = errorCode{"DIGEST_INVALID", http.StatusBadRequest}
	codeManifestBlobUnknown = errorCode{"MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest}
	codeManifestInvalid     = errorCode{"MANIFEST_INVALID", http.StatusBadRequest}
	codeManifestUnknown     = errorCode{"MANIFEST_UNKNOWN", http.StatusNotFound}
	codeNameInvalid         = errorCode{"NAME_INVALID", http.StatusBadRequest}
	codeNameUnknown         = errorCode{"NAME_UNKNOWN", http.StatusNotFound}
	codeSizeInvalid         = errorCode{"SIZE_INVALID", http.StatusBadRequest}
	codeUnauthorized        = errorCode{"UNAUTHORIZED", http.StatusUnauthorized}
	codeDenied              = errorCode{"DENIED", http.StatusForbidden}
	codeUnsupported         = errorCode{"UNSUPPORTED", http.StatusMethodNotAllowed}
	codeTooManyRequests     = errorCode{"TOOMANYREQUESTS", http.StatusTooManyRequests}
	codeRangeInvalid        = errorCode{"BLOB_UPLOAD_INVALID", http.StatusRequestedRangeNotSatisfiable}
	codeUnknown             = errorCode{"UNKNOWN", http.StatusInternalServerError}
)

// apiError is an error on its way to the client.
type apiError struct {
	code   errorCode
	msg    string
	detail any
}

func (e *apiError) Error() string { return e.code.Code + ": " + e.msg }

func newError(c errorCode, msg string) *apiError { return &apiError{code: c, msg: msg} }

// subject says what a request was about, so a not-found kind becomes the
// right code: a missing blob is BLOB_UNKNOWN, a missing manifest
// MANIFEST_UNKNOWN.
type subject int

const (
	aboutRepo subject = iota
	aboutBlob
	aboutUpload
	aboutManifest
)

// toAPIError maps an errdefs kind to the spec's code for what was asked.
func toAPIError(err error, about subject) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	msg := err.Error()
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		switch about {
		case aboutBlob:
			return newError(codeBlobUnknown, msg)
		case aboutUpload:
			return newError(codeBlobUploadUnknown, msg)
		case aboutManifest:
			return newError(codeManifestUnknown, msg)
		}
		return newError(codeNameUnknown, msg)
	case errors.Is(err, errdefs.ErrDigestMismatch):
		return newError(codeDigestInvalid, msg)
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrUnsupported):
		switch about {
		case aboutManifest:
			return newError(codeManifestInvalid, msg)
		case aboutUpload, aboutBlob:
			return newError(codeDigestInvalid, msg)
		}
		return newError(codeNameInvalid, msg)
	case errors.Is(err, errdefs.ErrUnauthorized):
		return newError(codeUnauthorized, msg)
	case errors.Is(err, errdefs.ErrDenied):
		return newError(codeDenied, msg)
	case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrAlreadyExists):
		return &apiError{code: errorCode{"DENIED", errdefs.HTTPStatus(err)}, msg: msg}
	case errors.Is(err, context.Canceled):
		return &apiError{code: errorCode{"UNKNOWN", 499}, msg: msg}
	}
	// The spec has no code for the rest; the status is the kind's default.
	return &apiError{code: errorCode{codeUnknown.Code, errdefs.HTTPStatus(err)}, msg: msg}
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers with the spec's error body.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.Header().Del("Docker-Content-Digest")
	w.WriteHeader(e.code.Status)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(errorBody{Errors: []errorEntry{{Code: e.code.Code, Message: e.msg, Detail: e.detail}}})
}
