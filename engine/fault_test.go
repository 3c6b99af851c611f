package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/seed"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/store"
)

// fault is what the proxy does to one connection's responses.
type fault int

const (
	faultNone     fault = iota
	faultCut            // close both ends after some bytes
	faultTruncate       // close in the middle of a large body
	faultFlip           // flip one bit in a large body
	faultStall          // stop sending for a while in a large body, then go on
	faultCount
)

// faultProxy is a TCP proxy between a client and a server that damages
// the server's answers: each connection gets one fault, chosen at random
// with the given odds of faultNone.
type faultProxy struct {
	ln       net.Listener
	target   string
	rng      *rand.Rand
	mu       sync.Mutex
	cleanPct int
	only     fault // when set, every connection gets this fault
	stall    time.Duration
	cutAt    int // for faultCut, a fixed offset instead of a random one
	counts   [faultCount]atomic.Int32
	conns    sync.Map // open client connections, closed at the end
}

// proxyOptions set a proxy's faults before it accepts connections.
type proxyOptions struct {
	seed     uint64
	cleanPct int
	only     fault
	cutAt    int
	stall    time.Duration
}

func newFaultProxy(t *testing.T, target string, o proxyOptions) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, rng: rand.New(rand.NewPCG(o.seed, o.seed^0x5eed)), cleanPct: o.cleanPct,
		only: o.only, cutAt: o.cutAt, stall: o.stall}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			p.conns.Store(c, true)
			go func() {
				defer wg.Done()
				defer p.conns.Delete(c)
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		// Clients keep idle connections open; end them.
		p.conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) pick() (fault, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.only
	if f == faultNone && p.rng.IntN(100) >= p.cleanPct {
		f = fault(1 + p.rng.IntN(int(faultCount)-1))
	}
	return f, p.rng.IntN(1 << 20)
}

func (p *faultProxy) serve(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	f, n := p.pick()
	p.counts[f].Add(1)
	go func() {
		io.Copy(s, c)
		s.(*net.TCPConn).CloseWrite()
	}()
	w := &damager{out: c, fault: f, at: n, stall: p.stall, every: p.only != faultNone}
	if f == faultCut {
		w.at = n % 4096
		if p.cutAt > 0 {
			w.at = p.cutAt
		}
	}
	_, _ = io.Copy(w, s)
}

// damager forwards a stream of HTTP responses, finding each body, and
// applies its fault once: at byte `at` of the stream (cut), or at byte
// `at` of the first body over 100 KB, or of every one (the others).
type damager struct {
	out   io.Writer
	fault fault
	at    int
	stall time.Duration
	done  bool
	every bool // damage every large body, not only the first

	pos     int    // bytes forwarded
	head    []byte // the response head being read
	body    int    // body bytes left in the current response
	bodyLen int
}

var errDamaged = errors.New("connection damaged on purpose")

func (d *damager) Write(p []byte) (int, error) {
	if d.fault == faultCut && !d.done && d.pos+len(p) > d.at {
		d.out.Write(p[:d.at-d.pos])
		d.done = true
		return 0, errDamaged
	}
	buf := append([]byte(nil), p...)
	for i := 0; i < len(buf); {
		if d.body > 0 {
			n := min(d.body, len(buf)-i)
			off := d.bodyLen - d.body // offset in this body
			if !d.done && d.fault != faultCut && d.bodyLen > 100<<10 {
				target := d.at % d.bodyLen
				if target >= off && target < off+n {
					switch d.fault {
					case faultFlip:
						buf[i+target-off] ^= 1 << (target % 8)
						d.done = true
					case faultTruncate:
						d.out.Write(buf[:i+target-off])
						d.done = true
						return 0, errDamaged
					case faultStall:
						if _, err := d.out.Write(buf[:i+target-off]); err != nil {
							return 0, err
						}
						time.Sleep(d.stall)
						d.done = true
						if _, err := d.out.Write(buf[i+target-off:]); err != nil {
							return 0, err
						}
						d.pos += len(p)
						d.advance(buf[i:])
						return len(p), nil
					}
				}
			}
			d.body -= n
			i += n
			continue
		}
		// Reading a head: up to the blank line.
		j := bytes.Index(append(d.head, buf[i:]...), []byte("\r\n\r\n"))
		if j < 0 {
			d.head = append(d.head, buf[i:]...)
			break
		}
		consumed := j + 4 - len(d.head)
		d.head = append(d.head, buf[i:i+consumed]...)
		d.bodyLen = contentLength(d.head)
		d.body = d.bodyLen
		if d.every && d.fault != faultCut {
			d.done = false
		}
		d.head = d.head[:0]
		i += consumed
	}
	if _, err := d.out.Write(buf); err != nil {
		return 0, err
	}
	d.pos += len(p)
	return len(p), nil
}

// advance accounts for forwarded bytes after a stall (the rest of this
// write finishes the current body or belongs to later responses, which a
// fault that already happened leaves alone).
func (d *damager) advance(rest []byte) {
	n := min(d.body, len(rest))
	d.body -= n
	if n < len(rest) {
		d.body = 0 // later heads are not parsed any more: the fault is spent
		d.fault = faultNone
	}
}

func contentLength(head []byte) int {
	for _, line := range strings.Split(string(head), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	if bytes.HasPrefix(head, []byte("HTTP/1.1 304")) || bytes.HasPrefix(head, []byte("HTTP/1.1 204")) {
		return 0
	}
	return 0
}

// faultImage is an image with layers big enough for faults to land in.
func faultImage(t *testing.T) seed.Image {
	t.Helper()
	var layers []seed.Layer
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 4 {
		var files []seed.File
		for f := range 6 {
			b := make([]byte, 60<<10)
			for k := range b {
				b[k] = byte(r.IntN(16)) // compresses a little, so gzip matters
			}
			files = append(files, seed.File{Name: "l" + strconv.Itoa(i) + "/f" + strconv.Itoa(f), Data: b})
		}
		layers = append(layers, seed.Layer{Files: files, CreatedBy: "layer " + strconv.Itoa(i)})
	}
	im, err := seed.Build(layers, seed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestPullThroughFaults: every pull through a damaging proxy either
// completes with exactly the image, or fails with a digest or network
// error and records nothing; the store is always consistent.
func TestPullThroughFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: many pulls through a damaging proxy")
	}
	h := hubtest.New(t, hubtest.Options{})
	im := faultImage(t)
	h.PushImage(t, "test/faults:1", im)

	var lastErr error
	run := func(t *testing.T, p *faultProxy, rounds int) (ok, failed int) {
		for round := range rounds {
			e := openEngine(t)
			c := client.New(client.Options{Backoff: 5 * time.Millisecond, StallTimeout: 300 * time.Millisecond, Retries: 4})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			res, err := e.Pull(ctx, p.addr()+"/test/faults:1", PullOptions{Registry: c})
			cancel()
			checkStore(t, e)
			if err != nil {
				failed++
				lastErr = err
				if !errors.Is(err, errdefs.ErrDigestMismatch) && !client.IsNetwork(err) && !client.IsTransient(err) {
					t.Errorf("round %d: an error that is neither a digest nor a network error: %v", round, err)
				}
				imgs, _ := e.Images(context.Background())
				if len(imgs) != 0 {
					t.Errorf("round %d: failed pull recorded %d images", round, len(imgs))
				}
				continue
			}
			ok++
			if res.ID != im.Config.Digest || res.Digest != im.Digest {
				t.Fatalf("round %d: pulled %+v, want %s", round, res, im.Config.Digest)
			}
			verifyFiles(t, e, im)
		}
		return ok, failed
	}
	t.Run("mixed", func(t *testing.T) {
		p := newFaultProxy(t, h.Listener.Addr().String(), proxyOptions{seed: uint64(time.Now().UnixNano()), cleanPct: 50, stall: 600 * time.Millisecond})
		ok, failed := run(t, p, 12)
		t.Logf("pulls: %d complete, %d failed cleanly; connections: clean %d cut %d truncated %d flipped %d stalled %d",
			ok, failed, p.counts[faultNone].Load(), p.counts[faultCut].Load(), p.counts[faultTruncate].Load(), p.counts[faultFlip].Load(), p.counts[faultStall].Load())
		if ok == 0 {
			t.Error("no pull got through a proxy that leaves half the connections alone")
		}
		if p.counts[faultFlip].Load() == 0 || p.counts[faultTruncate].Load() == 0 {
			t.Error("the proxy did not flip or truncate anything")
		}
	})
	t.Run("always-flipped", func(t *testing.T) {
		// Every large body has a flipped bit: no layer can arrive intact.
		p := newFaultProxy(t, h.Listener.Addr().String(), proxyOptions{seed: 3, only: faultFlip})
		ok, failed := run(t, p, 2)
		if ok != 0 || failed != 2 || !errors.Is(lastErr, errdefs.ErrDigestMismatch) {
			t.Errorf("%d pulls completed with every blob damaged; the last error: %v", ok, lastErr)
		}
		t.Logf("the error: %v", lastErr)
	})
	t.Run("always-cut", func(t *testing.T) {
		// Cut inside the first response's head: nothing ever gets through.
		p := newFaultProxy(t, h.Listener.Addr().String(), proxyOptions{seed: 4, only: faultCut, cutAt: 200})
		ok, failed := run(t, p, 1)
		if ok != 0 || failed != 1 || !client.IsNetwork(lastErr) {
			t.Errorf("%d pulls completed through a proxy that cuts every connection; the error: %v", ok, lastErr)
		}
		t.Logf("the error: %v", lastErr)
	})
	t.Run("hostile", func(t *testing.T) {
		// Every connection damaged: pulls may still complete by resuming,
		// but never with a wrong byte.
		p := newFaultProxy(t, h.Listener.Addr().String(), proxyOptions{seed: 99, stall: 600 * time.Millisecond})
		ok, failed := run(t, p, 4)
		t.Logf("pulls: %d complete, %d failed cleanly", ok, failed)
	})
}

// verifyFiles compares the unpacked files with the image's contents.
func verifyFiles(t *testing.T, e *Engine, im seed.Image) {
	t.Helper()
	ctx := context.Background()
	var rec store.Image
	err := e.Store().View(ctx, func(tx *store.Tx) error {
		var err error
		rec, err = tx.Image(ctx, im.Config.Digest)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i, l := range rec.Layers {
		for f := range 6 {
			want := make([]byte, 60<<10)
			for k := range want {
				want[k] = byte(r.IntN(16))
			}
			got, err := os.ReadFile(filepath.Join(e.Store().LayerDir(l.ChainID), "l"+strconv.Itoa(i), "f"+strconv.Itoa(f)))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("layer %d file %d differs (%v)", i, f, err)
			}
		}
	}
}
