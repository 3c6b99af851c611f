package hub

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// metrics counts requests by route kind, method and status class, and their
// durations in a histogram, written in Prometheus' text format. A handful of
// counters do not need a client library.
type metrics struct {
	start time.Time
	mu    sync.RWMutex
	m     map[metricKey]*metricVal
	bytes atomic.Int64
	gcRuns,
	gcBlobs,
	gcManifests atomic.Int64
	// passwordChecks counts bcrypt comparisons, signInRefusals the
	// attempts refused unchecked: together they show guessing and what it
	// costs.
	passwordChecks,
	signInRefusals atomic.Int64
}

type metricKey struct {
	kind, method string
	class        int // status / 100
}

var buckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type metricVal struct {
	count   atomic.Int64
	sumNano atomic.Int64
	hist    [len(buckets)]atomic.Int64
}

func newMetrics() *metrics { return &metrics{start: time.Now(), m: map[metricKey]*metricVal{}} }

func (m *metrics) observe(kind, method string, status int, d time.Duration, n int64) {
	k := metricKey{kind, method, status / 100}
	m.mu.RLock()
	v := m.m[k]
	m.mu.RUnlock()
	if v == nil {
		m.mu.Lock()
		if v = m.m[k]; v == nil {
			v = &metricVal{}
			m.m[k] = v
		}
		m.mu.Unlock()
	}
	v.count.Add(1)
	v.sumNano.Add(int64(d))
	s := d.Seconds()
	for i, b := range buckets {
		if s <= b {
			v.hist[i].Add(1)
		}
	}
	m.bytes.Add(n)
}

func (m *metrics) serve(w http.ResponseWriter, h *Hub) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.mu.RLock()
	keys := make([]metricKey, 0, len(m.m))
	for k := range m.m {
		keys = append(keys, k)
	}
	m.mu.RUnlock()
	slices.SortFunc(keys, func(a, b metricKey) int {
		if a.kind != b.kind {
			return cmpStr(a.kind, b.kind)
		}
		if a.method != b.method {
			return cmpStr(a.method, b.method)
		}
		return a.class - b.class
	})
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
	p("# HELP berth_hub_requests_total Requests served, by route, method and status class.\n# TYPE berth_hub_requests_total counter\n")
	for _, k := range keys {
		v := m.get(k)
		p("berth_hub_requests_total{route=%q,method=%q,code=\"%dxx\"} %d\n", k.kind, k.method, k.class, v.count.Load())
	}
	p("# HELP berth_hub_request_duration_seconds Request durations, by route and method.\n# TYPE berth_hub_request_duration_seconds histogram\n")
	for _, k := range keys {
		v := m.get(k)
		lbl := fmt.Sprintf("route=%q,method=%q,code=\"%dxx\"", k.kind, k.method, k.class)
		for i, b := range buckets {
			p("berth_hub_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", lbl, b, v.hist[i].Load())
		}
		p("berth_hub_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", lbl, v.count.Load())
		p("berth_hub_request_duration_seconds_sum{%s} %g\n", lbl, float64(v.sumNano.Load())/1e9)
		p("berth_hub_request_duration_seconds_count{%s} %d\n", lbl, v.count.Load())
	}
	p("# HELP berth_hub_response_bytes_total Bytes of response bodies sent.\n# TYPE berth_hub_response_bytes_total counter\nberth_hub_response_bytes_total %d\n", m.bytes.Load())
	p("# HELP berth_hub_repositories Repositories known.\n# TYPE berth_hub_repositories gauge\nberth_hub_repositories %d\n", h.index.Len())
	p("# HELP berth_hub_gc_runs_total Garbage collections run.\n# TYPE berth_hub_gc_runs_total counter\nberth_hub_gc_runs_total %d\n", m.gcRuns.Load())
	p("# HELP berth_hub_gc_deleted_blobs_total Blobs removed by garbage collection.\n# TYPE berth_hub_gc_deleted_blobs_total counter\nberth_hub_gc_deleted_blobs_total %d\n", m.gcBlobs.Load())
	p("# HELP berth_hub_gc_deleted_manifests_total Manifests removed by garbage collection.\n# TYPE berth_hub_gc_deleted_manifests_total counter\nberth_hub_gc_deleted_manifests_total %d\n", m.gcManifests.Load())
	p("# HELP berth_hub_password_checks_total Passwords compared with bcrypt.\n# TYPE berth_hub_password_checks_total counter\nberth_hub_password_checks_total %d\n", m.passwordChecks.Load())
	p("# HELP berth_hub_signin_refusals_total Sign-in attempts refused unchecked after too many failures.\n# TYPE berth_hub_signin_refusals_total counter\nberth_hub_signin_refusals_total %d\n", m.signInRefusals.Load())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p("# HELP go_goroutines Goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	p("# HELP go_memstats_heap_alloc_bytes Heap bytes in use.\n# TYPE go_memstats_heap_alloc_bytes gauge\ngo_memstats_heap_alloc_bytes %d\n", ms.HeapAlloc)
	p("# HELP process_start_time_seconds Start time.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %d\n", m.start.Unix())
	_, _ = io.WriteString(w, "")
}

func (m *metrics) get(k metricKey) *metricVal {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.m[k]
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
