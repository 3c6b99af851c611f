package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// FuzzTokenResponse: whatever a token server answers, the client takes a
// token with a cache time of at least a minute, or says the answer is
// invalid.
func FuzzTokenResponse(f *testing.F) {
	f.Add([]byte(`{"token":"abc","expires_in":300}`))
	f.Add([]byte(`{"access_token":"abc","expires_in":-5}`))
	f.Add([]byte(`{"token":"","access_token":""}`))
	f.Add([]byte(`{"token":"a","expires_in":9223372036854775807}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, ttl, err := decodeToken(bytes.NewReader(body), "auth.example")
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if tok == "" || ttl < time.Minute {
			t.Fatalf("token %q for %v from %q", tok, ttl, body)
		}
	})
}

// FuzzReadError: any error body and Retry-After a registry sends reads
// as an Error with a status, a bounded wait, and a message of bounded size.
func FuzzReadError(f *testing.F) {
	f.Add(401, "", []byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
	f.Add(429, "120", []byte(`{"error":"slow down","error_description":"too many"}`))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`not json`))
	f.Fuzz(func(t *testing.T, status int, retry string, body []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retry}}, Body: io.NopCloser(bytes.NewReader(body))}
		e := readError(resp, http.MethodGet, &url.URL{Scheme: "https", Host: "r.example", Path: "/v2/"})
		if e.Status != status || e.RetryAfter() < 0 || e.RetryAfter() > 30*time.Second {
			t.Fatalf("%+v from status %d, Retry-After %q", e, status, retry)
		}
		if len(e.Message) > 64<<10 {
			t.Fatalf("message of %d bytes", len(e.Message))
		}
		_ = e.Error()
	})
}

// FuzzSearch: any search term reaches the hub as it was typed (q), and
// any answer reads as results or as an invalid answer.
func FuzzSearch(f *testing.F) {
	var mu sync.Mutex
	var answer []byte
	var gotQ string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		gotQ = r.URL.Query().Get("q")
		_, _ = w.Write(answer)
	}))
	f.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	c := New(Options{Retries: -1})
	f.Add("nginx", []byte(`{"results":[{"name":"library/nginx","star_count":3,"is_official":true,"badge":"official"}]}`))
	f.Add("a b&c=d#e%", []byte(`{"results":null}`))
	f.Add("", []byte(`{"results":[{"name":1}]}`))
	f.Fuzz(func(t *testing.T, term string, body []byte) {
		mu.Lock()
		answer, gotQ = body, "\x00unset"
		mu.Unlock()
		_, err := c.Search(context.Background(), host, term, 25)
		mu.Lock()
		q := gotQ
		mu.Unlock()
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("error of no known kind: %v", err)
		}
		if q != term {
			t.Fatalf("searched for %q, the hub got %q", term, q)
		}
	})
}
