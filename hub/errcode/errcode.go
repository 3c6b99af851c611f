// Package errcode is the registry API's errors, in the shape of
// distribution's registry/api/errcode: the OCI distribution spec's codes
// with their HTTP statuses, and the JSON body they go out in.
//
// The registry API answers from this table, not from errdefs.HTTPStatus
// alone: the spec's codes do not follow from an error's kind
// (MANIFEST_BLOB_UNKNOWN is a 400, UNAUTHORIZED a 401 where DENIED is a
// 403, and a not-found is BLOB_UNKNOWN or MANIFEST_UNKNOWN by what was
// asked). An error the table has no code for gets errdefs.HTTPStatus's
// status.
package errcode

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berth-dev/berth/errdefs"
)

// Code is one of the spec's error codes with the status it answers with.
type Code struct {
	Value  string
	Status int
}

// The spec's codes, and two of the hub's own uses of them.
var (
	BlobUnknown             = Code{"BLOB_UNKNOWN", http.StatusNotFound}
	BlobUploadInvalid       = Code{"BLOB_UPLOAD_INVALID", http.StatusBadRequest}
	BlobUploadUnknown       = Code{"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound}
	DigestInvalid           = Code{"DIGEST_INVALID", http.StatusBadRequest}
	ManifestBlobUnknown     = Code{"MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest}
	ManifestInvalid         = Code{"MANIFEST_INVALID", http.StatusBadRequest}
	ManifestTooBig          = Code{"MANIFEST_INVALID", http.StatusRequestEntityTooLarge}
	ManifestUnknown         = Code{"MANIFEST_UNKNOWN", http.StatusNotFound}
	NameInvalid             = Code{"NAME_INVALID", http.StatusBadRequest}
	NameUnknown             = Code{"NAME_UNKNOWN", http.StatusNotFound}
	PaginationNumberInvalid = Code{"PAGINATION_NUMBER_INVALID", http.StatusBadRequest}
	SizeInvalid             = Code{"SIZE_INVALID", http.StatusBadRequest}
	Unauthorized            = Code{"UNAUTHORIZED", http.StatusUnauthorized}
	Denied                  = Code{"DENIED", http.StatusForbidden}
	Unsupported             = Code{"UNSUPPORTED", http.StatusMethodNotAllowed}
	TooManyRequests         = Code{"TOOMANYREQUESTS", http.StatusTooManyRequests}
	RangeInvalid            = Code{"BLOB_UPLOAD_INVALID", http.StatusRequestedRangeNotSatisfiable}
	Unknown                 = Code{"UNKNOWN", http.StatusInternalServerError}
)

// Error is an error on its way to the client.
type Error struct {
	Code    Code
	Message string
	Detail  any
}

func (e *Error) Error() string { return e.Code.Value + ": " + e.Message }

// New makes an error with a code.
func New(c Code, msg string) *Error { return &Error{Code: c, Message: msg} }

// Subject says what a request was about, so a not-found kind becomes the
// right code: a missing blob is BLOB_UNKNOWN, a missing manifest
// MANIFEST_UNKNOWN.
type Subject int

// Subjects of requests.
const (
	AboutRepo Subject = iota
	AboutBlob
	AboutUpload
	AboutManifest
)

// From maps an error to the spec's code for what was asked: an *Error
// stays as it is, an errdefs kind gets its code.
func From(err error, about Subject) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	msg := err.Error()
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		switch about {
		case AboutBlob:
			return New(BlobUnknown, msg)
		case AboutUpload:
			return New(BlobUploadUnknown, msg)
		case AboutManifest:
			return New(ManifestUnknown, msg)
		}
		return New(NameUnknown, msg)
	case errors.Is(err, errdefs.ErrDigestMismatch):
		return New(DigestInvalid, msg)
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrUnsupported):
		switch about {
		case AboutManifest:
			return New(ManifestInvalid, msg)
		case AboutUpload, AboutBlob:
			return New(DigestInvalid, msg)
		}
		return New(NameInvalid, msg)
	case errors.Is(err, errdefs.ErrUnauthorized):
		return New(Unauthorized, msg)
	case errors.Is(err, errdefs.ErrDenied):
		return New(Denied, msg)
	case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrAlreadyExists):
		return New(Code{Denied.Value, errdefs.HTTPStatus(err)}, msg)
	case errors.Is(err, context.Canceled):
		return New(Code{Unknown.Value, 499}, msg)
	}
	// The spec has no code for the rest; the status is the kind's default.
	return New(Code{Unknown.Value, errdefs.HTTPStatus(err)}, msg)
}

// Body is the spec's error body.
type Body struct {
	Errors []Entry `json:"errors"`
}

// Entry is one error of a Body.
type Entry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// Write answers with the spec's error body.
func Write(w http.ResponseWriter, r *http.Request, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.Header().Del("Docker-Content-Digest")
	w.WriteHeader(e.Code.Status)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(Body{Errors: []Entry{{Code: e.Code.Value, Message: e.Message, Detail: e.Detail}}})
}
