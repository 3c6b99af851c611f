package hub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub"
)

// slowBodies are the requests a slow client trickles: a token grant, a
// manifest and the sign-in form, each promising 200 bytes.
var slowBodies = []string{
	"POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n",
	"PUT /v2/alice/app/manifests/v1 HTTP/1.1\r\nHost: %s\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 200\r\n\r\n",
	"POST /signin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n",
}

// TestSlowBodiesAreCappedAndCut: 500 connections from one address, each
// sending a /token grant, a manifest or the sign-in form a byte a second.
// The hub holds at most its per-client cap of them, closes the rest at
// once, cuts those it holds within its body idle timeout, and answers
// /v2/ to another address in under 100 ms throughout (issue 16, finding
// 10: request bodies had no timeout and connections no cap).
func TestSlowBodiesAreCappedAndCut(t *testing.T) {
	const conns, maxPerClient, timeout = 500, 50, time.Second
	addr := runServer(t, hub.Server{Addr: "127.0.0.1:0", MaxConnsPerClient: maxPerClient,
		Config: hub.Config{Root: filepath.Join(t.TempDir(), "hub"), Open: true, GCInterval: -1, BodyIdleTimeout: timeout,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})

	// The other client asks once the 500 are connected: the burst of
	// dials is this process's own work, the hub's is to hold them.
	var dialed sync.WaitGroup
	dialed.Add(conns)
	stop := make(chan struct{})
	worst := make(chan time.Duration, 1)
	go func() { dialed.Wait(); worst <- pingFrom(t, "127.0.0.2", addr, stop) }()

	start := time.Now()
	defer func() { t.Logf("all closed %v after the first dial", time.Since(start).Round(time.Millisecond)) }()
	closed := make([]time.Duration, conns)
	answered := make([]bool, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			closed[i], answered[i] = trickle(addr, fmt.Sprintf(slowBodies[i%len(slowBodies)], addr), dialed.Done)
		}()
	}
	wg.Wait()
	close(stop)
	refused, cut, late := 0, 0, 0
	for i, d := range closed {
		switch {
		case d < timeout/2 && !answered[i]:
			refused++
		case d <= timeout+1500*time.Millisecond:
			cut++
		default:
			late++
		}
	}
	sorted := append([]time.Duration(nil), closed...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	t.Logf("%d connections: %d refused at once, %d cut, %d later; lasting %v (median) to %v (longest); /v2/ from 127.0.0.2 at worst %v",
		conns, refused, cut, late, sorted[conns/2].Round(time.Millisecond), sorted[conns-1].Round(time.Millisecond), (<-worst).Round(time.Millisecond))
	if late > 0 || cut > maxPerClient || refused < conns-maxPerClient-10 {
		t.Errorf("want at most %d held and cut within %v, the rest refused at once", maxPerClient, timeout)
	}
}

// trickle sends head, then a byte a second, until the hub closes the
// connection; it returns how long the connection lasted and whether the
// hub answered anything first. It calls dialed once connected.
func trickle(addr, head string, dialed func()) (time.Duration, bool) {
	c, err := net.Dial("tcp", addr)
	dialed()
	start := time.Now()
	if err != nil {
		return 0, false
	}
	defer c.Close()
	done := make(chan struct{})
	go func() {
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Second):
				if _, err := c.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, _ := io.Copy(io.Discard, c)
	close(done)
	return time.Since(start), n > 0
}

// pingFrom asks GET /v2/ from local address src every 20 ms, on a new
// connection each time, until stop; it returns the slowest answer.
func pingFrom(t *testing.T, src, addr string, stop <-chan struct{}) time.Duration {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	var worst time.Duration
	for {
		select {
		case <-stop:
			return worst
		case <-time.After(20 * time.Millisecond):
		}
		t0 := time.Now()
		resp, err := c.Get("http://" + addr + "/v2/")
		took := time.Since(t0)
		if err != nil {
			t.Errorf("GET /v2/ from %s: %v", src, err)
			return worst
		}
		resp.Body.Close()
		// Starved would be seconds (the client gives up at 5). The 100 ms
		// goal is bench/abuse.sh's to measure: under -race on a loaded
		// 2-core machine one answer can take a little longer, and no test
		// fails for being slow.
		if took > time.Second {
			t.Errorf("GET /v2/ from %s took %v", src, took)
		}
		worst = max(worst, took)
	}
}

// runServer runs srv until the test ends and returns its address.
func runServer(t *testing.T, srv hub.Server) string {
	t.Helper()
	ready := make(chan string, 1)
	srv.Ready = func(a string) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-errc })
	select {
	case a := <-ready:
		return a
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("the hub did not start")
	}
	return ""
}
