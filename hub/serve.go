package hub

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/berth-dev/berth/hub/idle"
	"github.com/berth-dev/berth/hub/metrics"
)

// ServeHTTP routes a request.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	p := r.URL.Path
	kind := metrics.RouteOther
	if p != "/v2" && !strings.HasPrefix(p, "/v2/") {
		// The registry sets its own: uploads have a longer timeout.
		r.Body = idle.Body(sw, r, h.cfg.BodyIdleTimeout)
	}
	switch {
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		kind = h.registry.Serve(sw, r)
	case p == "/token":
		kind = metrics.RouteToken
		h.access.ServeToken(sw, r)
	case p == "/token/revoke":
		kind = metrics.RouteToken
		h.access.ServeRevoke(sw, r)
	case strings.HasPrefix(p, "/v1/"):
		kind = metrics.RouteV1
		h.api.ServeV1(sw, r)
	case strings.HasPrefix(p, "/api/v1/"):
		kind = metrics.RouteAPI
		h.api.ServeAPI(sw, r)
	case p == "/healthz" || p == "/readyz":
		kind = metrics.RouteHealth
		h.serveHealth(sw, r)
	case p == "/metrics" && h.cfg.MetricsToken != "":
		kind = metrics.RouteMetrics
		h.servePublicMetrics(sw, r)
	default:
		kind = metrics.RouteWeb
		h.serveWeb(sw, r)
	}
	dur := time.Since(start)
	h.metrics.Observe(kind, r.Method, sw.status, dur, sw.written)
	if sw.status >= 500 {
		h.log.Warn("request failed", "method", r.Method, "path", p, "status", sw.status, "duration", dur)
	} else if h.log.Enabled(r.Context(), -4) {
		h.log.Debug("request", "method", r.Method, "path", p, "status", sw.status, "duration", dur, "bytes", sw.written)
	}
}

// MetricsHandler serves the metrics in Prometheus's format, for an address
// of their own (Server.MetricsAddr).
func (h *Hub) MetricsHandler() http.Handler { return h.metrics.Handler() }

// servePublicMetrics serves /metrics on the public address to the bearer
// of the metrics token alone.
func (h *Hub) servePublicMetrics(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(h.cfg.MetricsToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
		http.Error(w, "metrics need the metrics token", http.StatusUnauthorized)
		return
	}
	h.metrics.Handler().ServeHTTP(w, r)
}

func (h *Hub) serveHealth(w http.ResponseWriter, r *http.Request) {
	if _, err := h.meta.LastChange(r.Context()); err != nil {
		http.Error(w, "metadata unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "repositories": h.index.Len()})
}

// statusWriter records the status and size for metrics and logs, and keeps
// ReadFrom so that blobs still go out with sendfile.
type statusWriter struct {
	http.ResponseWriter
	status  int
	written int64
	wrote   bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.written += int64(n)
	return n, err
}

func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	s.wrote = true
	n, err := io.Copy(s.ResponseWriter, r)
	s.written += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
