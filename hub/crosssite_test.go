package hub_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/hubtest"
)

// TestCrossSiteRequestsRefused: the JSON API asks no browser for Basic
// credentials, and a state-changing request with credentials that a
// browser sent from another site is refused on the JSON API and on /v2/
// alike, while clients that send no Origin (docker, skopeo) and the site's
// own pages go on (issue 16, finding 6).
func TestCrossSiteRequestsRefused(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true})
	h.AddUser(t, "alice", "secret")
	<-h.Hub.Seeded()

	a := send(t, mustRequest(http.MethodGet, h.URL+"/api/v1/user"))
	if a.status != http.StatusUnauthorized || strings.Contains(a.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("anonymous GET /api/v1/user: %d, WWW-Authenticate %q; want 401 without a Basic challenge", a.status, a.header.Get("WWW-Authenticate"))
	}

	blob := []byte("made across sites")
	upload := fmt.Sprintf("/v2/alice/csrfmade/blobs/uploads/?digest=sha256:%x", sha256.Sum256(blob))
	do := func(method, path string, hdr ...string) int {
		req, _ := http.NewRequest(method, h.URL+path, bytes.NewReader(blob))
		req.SetBasicAuth("alice", "secret")
		req.Header.Set("Content-Type", "text/plain")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return send(t, req).status
	}
	for _, hdr := range [][]string{
		{"Origin", "http://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"},
	} {
		if got := do(http.MethodPut, "/api/v1/repositories/welcome/star", hdr...); got != http.StatusForbidden {
			t.Errorf("star with %v: %d, want 403", hdr, got)
		}
		if got := do(http.MethodPost, upload, hdr...); got != http.StatusForbidden {
			t.Errorf("blob upload with %v: %d, want 403", hdr, got)
		}
	}
	if code, _ := req(t, http.MethodGet, h.URL+"/api/v1/repositories/alice/csrfmade", "", nil); code != http.StatusNotFound {
		t.Errorf("alice/csrfmade: %d, want 404 (never made)", code)
	}

	// Reading across sites is no change; the docker CLI and skopeo send no
	// Origin; the site's own pages send theirs.
	if got := do(http.MethodGet, "/api/v1/user", "Origin", "http://evil.example"); got != http.StatusOK {
		t.Errorf("cross-site GET: %d, want 200", got)
	}
	if got := do(http.MethodPost, upload); got != http.StatusCreated {
		t.Errorf("upload without Origin: %d, want 201", got)
	}
	if got := do(http.MethodPut, "/api/v1/repositories/welcome/star", "Origin", h.URL, "Sec-Fetch-Site", "same-origin"); got != http.StatusOK {
		t.Errorf("star from the site itself: %d, want 200", got)
	}
}
