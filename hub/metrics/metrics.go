// Package metrics is the hub's Prometheus instrumentation: requests by
// route, method and status class with their durations, response bytes, and
// the counters of garbage collection and sign-in throttling.
//
// Every label value comes from a fixed set, so no client can grow the
// number of series: a method outside HTTP's nine is OTHER, a route the hub
// does not name is "other", a status outside 1xx–5xx is "other". Each Hub
// has a registry of its own, not the global default, so a test may run
// several hubs in one process.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Routes the hub reports requests under; anything else counts as "other".
const (
	RouteV2Unknown = "v2-unknown"
	RoutePing      = "ping"
	RouteCatalog   = "catalog"
	RouteTags      = "tags"
	RouteManifest  = "manifest"
	RouteBlob      = "blob"
	RouteUpload    = "upload"
	RouteReferrers = "referrers"
	RouteToken     = "token"
	RouteV1        = "v1"
	RouteAPI       = "api"
	RouteHealth    = "health"
	RouteMetrics   = "metrics"
	RouteWeb       = "web"
	RouteOther     = "other"
)

var routes = map[string]bool{
	RouteV2Unknown: true, RoutePing: true, RouteCatalog: true, RouteTags: true,
	RouteManifest: true, RouteBlob: true, RouteUpload: true, RouteReferrers: true,
	RouteToken: true, RouteV1: true, RouteAPI: true, RouteHealth: true,
	RouteMetrics: true, RouteWeb: true, RouteOther: true,
}

// Method is the label value for an HTTP method: the method itself for the
// nine standard ones, OTHER for anything a client made up.
func Method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// Route is the label value for a route name: itself if the hub names it,
// else "other".
func Route(r string) string {
	if routes[r] {
		return r
	}
	return RouteOther
}

// Class is the label value for a status: "2xx" and so on, "other" for a
// status outside 100–599.
func Class(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// Metrics holds the hub's collectors.
type Metrics struct {
	reg       *prometheus.Registry
	handler   http.Handler
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	bytes     prometheus.Counter

	GCRuns         prometheus.Counter
	GCBlobs        prometheus.Counter
	GCManifests    prometheus.Counter
	PasswordChecks prometheus.Counter // bcrypt comparisons
	SignInRefusals prometheus.Counter // attempts refused unchecked
}

// New makes the collectors on a registry of their own, with the Go runtime
// and process collectors; repos reports how many repositories the hub knows.
func New(repos func() int) *Metrics {
	labels := []string{"route", "method", "code"}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_hub_requests_total", Help: "Requests served, by route, method and status class.",
		}, labels),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_hub_request_duration_seconds", Help: "Request durations, by route, method and status class.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, labels),
		bytes:          counter("berth_hub_response_bytes_total", "Bytes of response bodies sent."),
		GCRuns:         counter("berth_hub_gc_runs_total", "Garbage collections run."),
		GCBlobs:        counter("berth_hub_gc_deleted_blobs_total", "Blobs removed by garbage collection."),
		GCManifests:    counter("berth_hub_gc_deleted_manifests_total", "Manifests removed by garbage collection."),
		PasswordChecks: counter("berth_hub_password_checks_total", "Passwords compared with bcrypt."),
		SignInRefusals: counter("berth_hub_signin_refusals_total", "Sign-in attempts refused unchecked after too many failures."),
	}
	m.reg.MustRegister(
		m.requests, m.durations, m.bytes,
		m.GCRuns, m.GCBlobs, m.GCManifests, m.PasswordChecks, m.SignInRefusals,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "berth_hub_repositories", Help: "Repositories known."},
			func() float64 { return float64(repos()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// Observe counts one request.
func (m *Metrics) Observe(route, method string, status int, d time.Duration, written int64) {
	lv := []string{Route(route), Method(method), Class(status)}
	m.requests.WithLabelValues(lv...).Inc()
	m.durations.WithLabelValues(lv...).Observe(d.Seconds())
	m.bytes.Add(float64(written))
}

// Handler serves the registry in Prometheus' exposition format.
func (m *Metrics) Handler() http.Handler {
	return m.handler
}
