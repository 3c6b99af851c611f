package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLabelsFromFixedSets(t *testing.T) {
	m := New(func() int { return 7 })
	m.Observe("v1", "GET", 200, time.Millisecond, 10)
	m.Observe("no-such-route", "BREW", 999, time.Millisecond, 0)
	m.Observe("blob", "PROPFIND", 499, time.Millisecond, 0)
	m.PasswordChecks.Inc()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	body := string(b)
	for _, want := range []string{
		`berth_hub_requests_total{code="2xx",method="GET",route="v1"} 1`,
		`berth_hub_requests_total{code="other",method="OTHER",route="other"} 1`,
		`berth_hub_requests_total{code="4xx",method="OTHER",route="blob"} 1`,
		"berth_hub_response_bytes_total 10",
		"berth_hub_repositories 7",
		"berth_hub_password_checks_total 1",
		"# TYPE berth_hub_request_duration_seconds histogram",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
	for _, bad := range []string{"BREW", "PROPFIND", "no-such-route", "999"} {
		if strings.Contains(body, bad) {
			t.Errorf("%q is a label value", bad)
		}
	}
}

func TestTwoRegistries(t *testing.T) {
	// Each hub has its own registry: a second New must not panic on a
	// duplicate registration, nor share counts.
	a, b := New(func() int { return 0 }), New(func() int { return 0 })
	a.GCRuns.Inc()
	rec := httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "berth_hub_gc_runs_total 0") {
		t.Errorf("b sees a's count:\n%s", rec.Body.String())
	}
}
