package hub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub"
)

// TestStalledUploadLetsGo: a client that stops sending an upload's body
// without closing its connection does not hold the upload for good; after
// UploadIdleTimeout the upload answers its status again and can be resumed.
func TestStalledUploadLetsGo(t *testing.T) {
	h, err := hub.New(context.Background(), hub.Config{Root: t.TempDir(), Open: true, GCInterval: -1,
		UploadIdleTimeout: 500 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); h.Close() })

	resp, err := http.Post(srv.URL+"/v2/team/app/blobs/uploads/", "application/octet-stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 202 || loc == "" {
		t.Fatalf("start: %d %q", resp.StatusCode, loc)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = srv.URL + loc
	}

	// 100 of the 1000 promised bytes, then silence with the connection open.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := strings.TrimPrefix(loc, srv.URL)
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n%s",
		path, srv.Listener.Addr(), strings.Repeat("x", 100))
	time.Sleep(200 * time.Millisecond) // the PATCH holds the upload now

	c := &http.Client{Timeout: 20 * time.Second}
	start := time.Now()
	resp, err = c.Get(loc)
	if err != nil {
		t.Fatalf("upload status while a body stalls: %v (after %s)", err, time.Since(start))
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Range") == "" {
		t.Errorf("upload status: %d, Range %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	// The stalled request was answered (with an error) and its connection closed.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if answer, _ := io.ReadAll(conn); !strings.HasPrefix(string(answer), "HTTP/1.1 4") {
		t.Errorf("the stalled PATCH got %q", answer)
	}
}
