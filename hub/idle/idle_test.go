package idle

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serve runs a handler that reads its body through Body and answers how
// many bytes it read and how the read ended.
func serve(t *testing.T, timeout time.Duration) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, Body(w, r, timeout))
		fmt.Fprintf(w, "%d %v", n, err)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// send writes a request promising size bytes, then chunks of chunk bytes
// every gap, and returns the answer's first line and when it came.
func send(t *testing.T, addr string, size, chunk int, gap time.Duration) (string, time.Duration) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", size)
	go func() {
		for sent := 0; sent < size; sent += chunk {
			if _, err := c.Write([]byte(strings.Repeat("a", min(chunk, size-sent)))); err != nil {
				return
			}
			time.Sleep(gap)
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	status, _, _ := strings.Cut(string(b), "\r\n")
	return status, time.Since(start)
}

// TestBodyCutsTrickles: a body sending a byte at a time is cut within the
// timeout, one sending a few KiB at a time runs past it, and a handler
// that reads a whole body leaves the connection without a deadline.
func TestBodyCutsTrickles(t *testing.T) {
	addr := serve(t, 300*time.Millisecond)
	status, took := send(t, addr, 200, 1, 50*time.Millisecond)
	if took > time.Second {
		t.Errorf("a trickling body held the connection %v: %s", took, status)
	}
	status, took = send(t, addr, 10*MinProgress, MinProgress, 100*time.Millisecond)
	if !strings.HasPrefix(status, "HTTP/1.1 200") || took < 800*time.Millisecond {
		t.Errorf("a moving body of 10 × MinProgress: %q after %v, want 200 after the whole second it takes", status, took)
	}
}

// TestBodyLiftsTheDeadline: once the body is read, the handler may take
// longer than the timeout: the connection's deadline is gone, so neither
// the request's context nor the answer is cut.
func TestBodyLiftsTheDeadline(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, Body(w, r, timeout))
		time.Sleep(3 * timeout)
		fmt.Fprintf(w, "%v", r.Context().Err())
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "<nil>" {
		t.Errorf("after a slow handler: %d %q", resp.StatusCode, b)
	}
}
