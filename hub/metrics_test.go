package hub_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/hubtest"
)

// TestMetricsMethodLabels: made-up methods count as OTHER, so a client
// cannot add a series per method it invents.
func TestMetricsMethodLabels(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	paths := []string{"/v2/", "/v2/x/manifests/latest", "/api/v1/search", "/token", "/nowhere"}
	for i := range 50 {
		m := make([]byte, 8+rand.IntN(24))
		for j := range m {
			m[j] = letters[rand.IntN(len(letters))]
		}
		req, err := http.NewRequest(string(m), h.URL+paths[i%len(paths)], nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	code, body := metricsOf(h)
	if code != http.StatusOK {
		t.Fatalf("metrics = %d", code)
	}
	standard := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "OTHER"}
	var seen []string
	for _, m := range regexp.MustCompile(`method="([^"]*)"`).FindAllStringSubmatch(string(body), -1) {
		if !slices.Contains(standard, m[1]) {
			t.Errorf("method label %q in /metrics", m[1])
		}
		if !slices.Contains(seen, m[1]) {
			seen = append(seen, m[1])
		}
	}
	if !slices.Contains(seen, "OTHER") {
		t.Errorf("no OTHER among the method labels %v", seen)
	}
	if n := strings.Count(string(body), "berth_hub_requests_total{"); n > 2*len(paths)+1 {
		t.Errorf("%d request series after %d made-up methods:\n%s", n, 50, grep(string(body), "berth_hub_requests_total{"))
	}
}

// metricsOf reads the metrics as a scraper on the metrics address does:
// the public address does not serve them.
func metricsOf(h *hubtest.Hub) (int, []byte) {
	rec := httptest.NewRecorder()
	h.Hub.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Code, rec.Body.Bytes()
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n"))
}

// TestMetricsHugeMethods: a method is any token up to the header limit
// (about 1 MiB) to Go's server; 300 random 500 KB ones took the hub from
// 51 MB to 362 MB and /metrics to 2.7 GB when each became a series (issue
// 16, finding 1). Now they count as OTHER and the metrics stay small.
func TestMetricsHugeMethods(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	m := make([]byte, 500<<10)
	for range 20 {
		for j := range m {
			m[j] = letters[rand.IntN(len(letters))]
		}
		c, err := net.Dial("tcp", h.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "%s /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", m, h.Host)
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
	_, body := metricsOf(h)
	if len(body) > 64<<10 || !strings.Contains(string(body), `method="OTHER"`) {
		t.Errorf("/metrics is %d bytes after 20 methods of 500 KB, OTHER counted: %v", len(body), strings.Contains(string(body), `method="OTHER"`))
	}
}
