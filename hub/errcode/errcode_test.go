package errcode

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

func TestFrom(t *testing.T) {
	notFound := fmt.Errorf("x: %w", errdefs.ErrNotFound)
	for _, tt := range []struct {
		err    error
		about  Subject
		code   string
		status int
	}{
		{notFound, AboutBlob, "BLOB_UNKNOWN", 404},
		{notFound, AboutManifest, "MANIFEST_UNKNOWN", 404},
		{notFound, AboutUpload, "BLOB_UPLOAD_UNKNOWN", 404},
		{notFound, AboutRepo, "NAME_UNKNOWN", 404},
		{fmt.Errorf("x: %w", errdefs.ErrInvalid), AboutManifest, "MANIFEST_INVALID", 400},
		{fmt.Errorf("x: %w", errdefs.ErrUnauthorized), AboutRepo, "UNAUTHORIZED", 401},
		{fmt.Errorf("x: %w", errdefs.ErrDenied), AboutRepo, "DENIED", 403},
		{fmt.Errorf("x: %w", errdefs.ErrConflict), AboutRepo, "DENIED", 409},
		{New(ManifestBlobUnknown, "m"), AboutManifest, "MANIFEST_BLOB_UNKNOWN", 400},
		{errors.New("plain"), AboutRepo, "UNKNOWN", 500},
	} {
		e := From(tt.err, tt.about)
		if e.Code.Value != tt.code || e.Code.Status != tt.status {
			t.Errorf("From(%v, %d) = %s %d, want %s %d", tt.err, tt.about, e.Code.Value, e.Code.Status, tt.code, tt.status)
		}
	}
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Docker-Content-Digest", "sha256:x")
	e := New(ManifestBlobUnknown, "gone")
	e.Detail = map[string]string{"digest": "sha256:y"}
	Write(rec, httptest.NewRequest(http.MethodPut, "/", nil), e)
	body := rec.Body.String()
	if rec.Code != 400 || rec.Header().Get("Docker-Content-Digest") != "" ||
		!strings.Contains(body, `{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"gone","detail":{"digest":"sha256:y"}}]}`) {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), body)
	}
	rec = httptest.NewRecorder()
	Write(rec, httptest.NewRequest(http.MethodHead, "/", nil), e)
	if rec.Code != 400 || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %d %q", rec.Code, rec.Body.String())
	}
}
