package hub_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/hub"
	"github.com/berth-dev/berth/internal/hubtest"
)

// TestMetricsNotPublic: /metrics is not served on the public address
// unless asked for with a token; the operator's own address serves it.
func TestMetricsNotPublic(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true})
	if code, body := req(t, http.MethodGet, h.URL+"/metrics", "", nil); code != http.StatusNotFound || strings.Contains(string(body), "berth_hub_") {
		t.Errorf("public /metrics by default: %d, want 404", code)
	}

	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := metricsLn.Addr().String()
	metricsLn.Close()
	addr := runServer(t, hub.Server{Addr: "127.0.0.1:0", MetricsAddr: metricsAddr,
		Config: hub.Config{Root: filepath.Join(t.TempDir(), "hub"), GCInterval: -1, MetricsToken: "s3cret",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if code, body := req(t, http.MethodGet, "http://"+metricsAddr+"/metrics", "", nil); code != http.StatusOK || !strings.Contains(string(body), "berth_hub_") {
		t.Errorf("/metrics on --metrics-addr: %d", code)
	}
	for auth, want := range map[string]int{"": http.StatusUnauthorized, "Bearer wrong": http.StatusUnauthorized, "Bearer s3cret": http.StatusOK} {
		r, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if a := send(t, r); a.status != want {
			t.Errorf("public /metrics with %q: %d, want %d", auth, a.status, want)
		}
	}
}
