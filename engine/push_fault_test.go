package engine

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/store"
)

// pushFault is what the push proxy does to a request on its way to the
// hub, or to the hub's answer.
type pushFault int

const (
	pushClean pushFault = iota
	pushCut             // close both ends in the middle of a large request body
	pushFlip            // flip one bit of a large request body
	pushStall           // hold a large request body longer than the client waits
	pushLost            // forward an upload request, then cut the connection instead of answering
	pushSlow            // hold the answer to an upload request longer than the client waits
	push503             // answer an upload request 503 without forwarding it
	pushFaultCount
)

var pushFaultNames = [pushFaultCount]string{"clean", "cut", "flip", "stall", "lost", "slow", "503"}

// longStall is how long the proxy holds what it stalls: far longer than
// the client waits (StallTimeout 300ms), unless the client leaves.
const longStall = 20 * time.Second

// bigBody is the size from which a request body is worth damaging: upload
// chunks and streamed blobs, not manifests.
const bigBody = 64 << 10

// pushProxy is a TCP proxy between berth and the hub that parses the HTTP
// requests going up, so that it can damage upload bodies where the
// response-damaging faultProxy cannot. Each connection gets one fault
// (or none), chosen at random.
type pushProxy struct {
	ln     net.Listener
	target string
	o      pushProxyOptions
	mu     sync.Mutex
	rng    *rand.Rand
	off    atomic.Bool // forward everything untouched
	counts [pushFaultCount]atomic.Int32
	sent   atomic.Int64 // request body bytes forwarded to the hub
	spent  atomic.Int32 // damaged requests, against the budget
	active atomic.Int32 // connections being served
	conns  sync.Map
}

type pushProxyOptions struct {
	seed     uint64
	cleanPct int           // odds of a connection left alone
	faults   []pushFault   // what to pick from; every fault when empty
	every    bool          // damage every eligible request of a connection, not only one
	stall    time.Duration // how long stalls last, unless the client leaves
	cutFrac  float64       // when set, damage bodies at this fraction of their length
	first    bool          // answer faults hit a connection's first upload request
	budget   int32         // when set, how many requests to damage in all
	rate     int           // when set, bytes per second of each request body
}

// pushConn is one proxied connection's fault.
type pushConn struct {
	fault pushFault
	skip  int     // eligible requests to let through first
	frac  float64 // where in a body the damage lands
	spent bool
	// answer is what to do to the next bytes of the hub's answer: set by
	// the request side before it forwards the request (HTTP/1.1 without
	// pipelining: every earlier answer has been read by then).
	answer atomic.Int32
}

const (
	answerAsIs int32 = iota
	answerDrop
	answerHold
)

func newPushProxy(t *testing.T, target string, o pushProxyOptions) *pushProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.faults) == 0 {
		for f := pushCut; f < pushFaultCount; f++ {
			o.faults = append(o.faults, f)
		}
	}
	p := &pushProxy{ln: ln, target: target, o: o, rng: rand.New(rand.NewPCG(o.seed, o.seed^0xfa17))}
	var wg sync.WaitGroup
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			p.active.Add(1)
			p.conns.Store(c, true)
			go func() {
				defer wg.Done()
				defer p.active.Add(-1)
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepting
		// Clients keep idle connections open; end them.
		p.conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return p
}

// quiesce ends every connection and waits until none is served: a push
// that failed, or was killed, may have left bytes on their way to the hub,
// which would land during the next push otherwise.
func (p *pushProxy) quiesce(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.active.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d proxied connections do not end", p.active.Load())
		}
		p.conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		time.Sleep(5 * time.Millisecond)
	}
}

// host is the proxy's address, the registry part of references pushed
// through it.
func (p *pushProxy) host() string { return p.ln.Addr().String() }

func (p *pushProxy) pick() *pushConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := &pushConn{skip: p.rng.IntN(3), frac: p.rng.Float64()}
	if p.o.cutFrac > 0 {
		pc.frac = p.o.cutFrac
	}
	if p.o.first {
		pc.skip = 0
	}
	if p.rng.IntN(100) >= p.o.cleanPct {
		pc.fault = p.o.faults[p.rng.IntN(len(p.o.faults))]
	}
	return pc
}

// lockedWriter lets the answer side and an injected 503 write to the
// client without interleaving.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *pushProxy) serve(c net.Conn) {
	defer p.conns.Delete(c)
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.conns.Store(s, true)
	defer p.conns.Delete(s)
	defer s.Close()
	pc := p.pick()
	cw := &lockedWriter{w: c}
	done := make(chan struct{})
	gone := make(chan struct{})
	go func() {
		defer close(done)
		p.answers(pc, cw, c, s, gone)
	}()
	p.requests(pc, cw, c, s)
	// The client left, or a fault ended the connection: end both sides.
	close(gone)
	c.Close()
	s.Close()
	<-done
}

// answers forwards the hub's answers, dropping or holding one when the
// request side asked for it.
func (p *pushProxy) answers(pc *pushConn, cw io.Writer, c, s net.Conn, gone <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			switch pc.answer.Swap(answerAsIs) {
			case answerDrop:
				c.Close()
				s.Close()
				return
			case answerHold:
				select {
				case <-time.After(p.o.stall):
				case <-gone:
					return
				}
			}
			if _, err := cw.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// requests forwards the client's requests one by one, applying the
// connection's fault to the eligible one(s).
func (p *pushProxy) requests(pc *pushConn, cw io.Writer, c, s net.Conn) {
	br := bufio.NewReaderSize(c, 64<<10)
	for {
		head, err := readHead(br)
		if err != nil {
			return
		}
		method, length, ok := parseRequestHead(head)
		if !ok {
			// Not a request this proxy understands (chunked): pass the
			// rest through untouched.
			if _, err := s.Write(head); err == nil {
				_, _ = io.Copy(s, br)
			}
			return
		}
		act := pushClean
		if !p.off.Load() && !pc.spent {
			switch pc.fault {
			case pushCut, pushFlip, pushStall:
				if length >= bigBody {
					act = pc.fault
				}
			case pushLost, pushSlow, push503:
				if method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
					if pc.skip == 0 {
						act = pc.fault
					} else {
						pc.skip--
					}
				}
			}
		}
		if act != pushClean && p.o.budget > 0 && p.spent.Add(1) > p.o.budget {
			act = pushClean
		}
		if act != pushClean {
			p.counts[act].Add(1)
			pc.spent = !p.o.every
		}
		switch act {
		case push503:
			_, _ = io.CopyN(io.Discard, br, length)
			msg := `{"errors":[{"code":"UNAVAILABLE","message":"injected by the test proxy"}]}`
			fmt.Fprintf(cw, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
			return
		case pushLost:
			pc.answer.Store(answerDrop)
		case pushSlow:
			pc.answer.Store(answerHold)
		}
		if _, err := s.Write(head); err != nil {
			return
		}
		at := int64(pc.frac * float64(length))
		if err := p.body(br, s, length, act, at); err != nil {
			return
		}
	}
}

var errCut = errors.New("cut on purpose")

// body forwards a request body of n bytes, damaging it at byte at.
func (p *pushProxy) body(br *bufio.Reader, s net.Conn, n int64, act pushFault, at int64) error {
	buf := make([]byte, 32<<10)
	for done := int64(0); done < n; {
		k, err := br.Read(buf[:min(int64(len(buf)), n-done)])
		chunk := buf[:k]
		if k > 0 && at >= done && at < done+int64(k) {
			i := at - done
			switch act {
			case pushCut:
				w, _ := s.Write(chunk[:i])
				p.sent.Add(int64(w))
				return errCut
			case pushFlip:
				chunk[i] ^= 1 << (at % 8)
			case pushStall:
				w, werr := s.Write(chunk[:i])
				p.sent.Add(int64(w))
				if werr != nil {
					return werr
				}
				return p.stallBody(br, s, chunk[i:], n-done-int64(k))
			}
		}
		w, werr := s.Write(chunk)
		p.sent.Add(int64(w))
		if werr != nil {
			return werr
		}
		if p.o.rate > 0 && !p.off.Load() {
			time.Sleep(time.Duration(k) * time.Second / time.Duration(p.o.rate))
		}
		done += int64(k)
		if err != nil {
			return err
		}
	}
	return nil
}

// stallBody holds the rest of a body (held, then left more bytes to come)
// for the proxy's stall time, as a path that stops delivering. The client
// may give up meanwhile: then the hub sees the body end there, as it would
// see the client's connection close once the path works again, rather
// than only when the stall is over.
func (p *pushProxy) stallBody(br *bufio.Reader, s net.Conn, held []byte, left int64) error {
	held = append([]byte(nil), held...)
	type read struct {
		b   []byte
		err error
	}
	rest := make(chan read, 1)
	gone := make(chan error, 1)
	go func() {
		b := make([]byte, left)
		_, err := io.ReadFull(br, b)
		rest <- read{b, err}
		if err == nil {
			// The client sends nothing more before an answer: this returns
			// when it leaves, or after the answer, with its next request.
			_, err = br.Peek(1)
			gone <- err
		}
	}()
	timer := time.NewTimer(p.o.stall)
	defer timer.Stop()
	var body []byte
	got := false
wait:
	for {
		select {
		case r := <-rest:
			if r.err != nil {
				return r.err
			}
			body, got = r.b, true
		case err := <-gone:
			return cmp.Or(err, errCut)
		case <-timer.C:
			break wait
		}
	}
	if !got {
		r := <-rest
		if r.err != nil {
			return r.err
		}
		body = r.b
	}
	for _, b := range [][]byte{held, body} {
		w, err := s.Write(b)
		p.sent.Add(int64(w))
		if err != nil {
			return err
		}
	}
	// The reader is the helper's until the client's next request.
	return <-gone
}

// readHead reads a request head, up to and including the blank line.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil {
			return nil, err
		}
		if len(line) <= 2 && strings.TrimSpace(string(line)) == "" {
			return head, nil
		}
		if len(head) > 64<<10 {
			return nil, errors.New("request head too long")
		}
	}
}

// parseRequestHead returns a request's method and body length; ok is false
// for a body whose end this proxy cannot find.
func parseRequestHead(head []byte) (method string, length int64, ok bool) {
	lines := strings.Split(string(head), "\r\n")
	method, _, _ = strings.Cut(lines[0], " ")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "content-length":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return method, 0, false
			}
			length = n
		case "transfer-encoding":
			return method, 0, false
		}
	}
	return method, length, true
}

// nibbles is n reproducible random bytes of 16 values: they compress to
// about half, so gzip matters and the sizes stay predictable.
func nibbles(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(r.IntN(16))
	}
	return string(b)
}

func nibbleTar(seed uint64, files, size int) []byte {
	var fs []testimage.File
	for i := range files {
		fs = append(fs, testimage.File{Name: fmt.Sprintf("l%d/f%d", seed, i), Body: nibbles(seed*100+uint64(i), size)})
	}
	return testimage.Tar(fs...)
}

// pushFaultArchive is a Docker archive of one image, faults:1, whose blobs
// take every way an upload can go: a small layer and a chunked one kept
// uncompressed (gzipped while they are uploaded), a gzip layer over the
// one-request limit (streamed and resumed) and one under it, and a config
// over that limit too.
func pushFaultArchive(t *testing.T) []byte {
	t.Helper()
	small := testimage.Tar(testimage.File{Name: "etc/"}, testimage.File{Name: "etc/motd", Body: "pushed through faults\n"})
	chunked := nibbleTar(1, 8, 100<<10)
	streamed := nibbleTar(2, 8, 300<<10)
	single := nibbleTar(3, 3, 100<<10)
	cfg := testimage.Config([]string{"sh"}, small, chunked, streamed, single)
	var m map[string]any
	if err := json.Unmarshal(cfg, &m); err != nil {
		t.Fatal(err)
	}
	m["config"].(map[string]any)["Labels"] = map[string]string{"padding": nibbles(4, 1100<<10)}
	cfg, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return testimage.DockerArchive(testimage.ArchiveImage{
		Config: cfg,
		Layers: [][]byte{small, chunked, testimage.Gzip(streamed), testimage.Gzip(single)},
		Tags:   []string{"faults:1"},
	})
}

// pushedImage is what a correct push of faults:1 leaves on the hub.
type pushedImage struct {
	manifest digest.Digest
	config   ocispec.Descriptor
	layers   []ocispec.Descriptor // lowest first
	diffIDs  []digest.Digest
	stored   map[digest.Digest]bool // layers the store keeps compressed
}

// blobs are the config and the layers.
func (p pushedImage) blobs() []ocispec.Descriptor {
	return append([]ocispec.Descriptor{p.config}, p.layers...)
}

// localState is the store's content in words, without the compressed
// digests remembered per registry, which it returns apart.
func localState(t *testing.T, e *Engine) (string, []store.LayerBlob) {
	t.Helper()
	ctx := context.Background()
	var lines []string
	var remembered []store.LayerBlob
	err := e.Store().View(ctx, func(tx *store.Tx) error {
		imgs, err := tx.Images(ctx)
		if err != nil {
			return err
		}
		for _, img := range imgs {
			lines = append(lines, fmt.Sprintf("image %s manifest %s layers %v", img.ID, img.Manifest, img.Layers))
			rds, err := tx.RepoDigests(ctx, img.ID)
			if err != nil {
				return err
			}
			for _, rd := range rds {
				lines = append(lines, fmt.Sprintf("repo digest %s@%s", rd.Repo, rd.Digest))
			}
			for _, l := range img.Layers {
				lbs, err := tx.LayerBlobs(ctx, l.DiffID)
				if err != nil {
					return err
				}
				for _, lb := range lbs {
					if lb.Registry != "" {
						remembered = append(remembered, lb)
					} else {
						lines = append(lines, fmt.Sprintf("layer blob %s %s %s", lb.DiffID, lb.Blob, lb.MediaType))
					}
				}
			}
		}
		tags, err := tx.Tags(ctx, "")
		for _, tg := range tags {
			lines = append(lines, "tag "+tg.Ref+" "+tg.ImageID.String())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(filepath.Join(e.Store().Root(), "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			lines = append(lines, fmt.Sprintf("file %s %d", strings.TrimPrefix(p, e.Store().Root()), fi.Size()))
		}
		return nil
	})
	slices.Sort(lines)
	return strings.Join(slices.Compact(lines), "\n"), remembered
}

// checkHubBlobs hashes every blob the hub stores: none may hold bytes
// other than its digest says.
func checkHubBlobs(t *testing.T, h *hubtest.Hub) {
	t.Helper()
	ctx := context.Background()
	bs := h.Hub.Blobs()
	err := bs.Walk(ctx, func(info blobs.Info) error {
		f, err := bs.Open(ctx, info.Digest)
		if err != nil {
			return err
		}
		defer f.Close()
		got, err := info.Digest.Algorithm().FromReader(f)
		if err != nil {
			return err
		}
		if got != info.Digest {
			t.Errorf("the hub holds %s with bytes that hash to %s", info.Digest, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkPushed verifies that repo on the hub serves exactly the reference
// image: the same manifest digest, and every blob it names.
func checkPushed(t *testing.T, h *hubtest.Hub, path string, ref pushedImage) {
	t.Helper()
	ctx := context.Background()
	repo := client.New(client.Options{}).Repository(h.Host, path)
	m, err := repo.Manifest(ctx, "1")
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if m.Digest != ref.manifest {
		t.Fatalf("%s: manifest %s, want %s:\n%s", path, m.Digest, ref.manifest, m.Raw)
	}
	for _, b := range ref.blobs() {
		if n, err := repo.StatBlob(ctx, b.Digest); err != nil || n != b.Size {
			t.Errorf("%s: blob %s: %d bytes, %v; want %d", path, b.Digest, n, err, b.Size)
		}
	}
}

// hubHas lists the reference blobs repo holds on the hub.
func hubHas(t *testing.T, h *hubtest.Hub, path string, ref pushedImage) map[digest.Digest]bool {
	t.Helper()
	repo := client.New(client.Options{}).Repository(h.Host, path)
	has := map[digest.Digest]bool{}
	for _, b := range ref.blobs() {
		_, err := repo.StatBlob(context.Background(), b.Digest)
		switch {
		case err == nil:
			has[b.Digest] = true
		case !errors.Is(err, errdefs.ErrNotFound):
			t.Fatal(err)
		}
	}
	return has
}

// TestPushThroughFaults pushes an image through a proxy that damages
// uploads. Every push completes with exactly the image on the hub, or
// fails with an error that says what went wrong and leaves the store as
// it was, but for compressed digests of blobs the hub accepted; a second
// push then completes, skipping what the hub accepted. The hub never holds
// a blob whose bytes do not match its digest. Last, a push process is
// killed midway, and the next push completes.
func TestPushThroughFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: pushes through a damaging proxy")
	}
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{})
	e := openEngine(t)
	archive := pushFaultArchive(t)
	load(t, e, archive)
	newClient := func(retries int) *client.Client {
		return client.New(client.Options{Backoff: 20 * time.Millisecond, StallTimeout: 300 * time.Millisecond, Retries: retries, ChunkSize: 128 << 10})
	}

	// The reference: a push with nothing in the way, pulled back whole.
	refName := h.Host + "/test/reference:1"
	if err := e.Tag(ctx, "faults:1", refName); err != nil {
		t.Fatal(err)
	}
	pushed, err := e.Push(ctx, refName, PushOptions{Registry: newClient(4)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := client.New(client.Options{}).Repository(h.Host, "test/reference").Manifest(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Parse()
	if err != nil {
		t.Fatal(err)
	}
	src, err := e.Resolve(ctx, "faults:1")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := e.Config(src.ID)
	if err != nil {
		t.Fatal(err)
	}
	ref := pushedImage{manifest: pushed[0].Digest, config: p.Manifest.Config, layers: p.Manifest.Layers, diffIDs: cfg.RootFS.DiffIDs, stored: map[digest.Digest]bool{}}
	for i := range ref.layers {
		err := e.Store().View(ctx, func(tx *store.Tx) error {
			lbs, err := tx.LayerBlobs(ctx, ref.diffIDs[i])
			for _, lb := range lbs {
				if lb.Registry == "" && lb.Blob == ref.layers[i].Digest {
					ref.stored[lb.Blob] = true
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if ref.config.Size <= 1<<20 || len(ref.stored) != 2 || ref.layers[1].Size < 3*128<<10 || ref.layers[2].Size <= 1<<20 {
		t.Fatalf("the test image does not cover every way to upload: config %d bytes, layers %v, %d stored compressed", ref.config.Size, ref.layers, len(ref.stored))
	}
	back := openEngine(t)
	if res, err := back.Pull(ctx, refName, PullOptions{Registry: newClient(4)}); err != nil || res.ID != src.ID || res.Digest != ref.manifest {
		t.Fatalf("pulling the reference back: %+v %v", res, err)
	}
	// Another store that does not know the hub has its gzip layers asks
	// before uploading them (as after a push killed before it could
	// remember them); the layers it compresses itself it cannot ask for.
	other := openEngine(t)
	load(t, other, archive)
	if err := other.Tag(ctx, "faults:1", refName); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if _, err := other.Push(ctx, refName, PushOptions{Registry: newClient(4), Progress: rec.add}); err != nil {
		t.Fatal(err)
	}
	for i, l := range ref.layers {
		got := rec.statuses(image.ShortID(ref.diffIDs[i]))
		if last := got[len(got)-1]; ref.stored[l.Digest] && last != "Layer already exists" || !ref.stored[l.Digest] && last != "Pushed" {
			t.Errorf("layer %d (stored compressed: %v) pushed again from another store: %v", i, ref.stored[l.Digest], got)
		}
	}

	type outcome int
	const (
		mayFail outcome = iota
		mustComplete
		mustFail
	)
	cases := []struct {
		name    string
		proxy   pushProxyOptions
		retries int
		rounds  int
		want    outcome
		resumes bool // the push sends each byte about once
		// failure says whether a failed push's error is one this case may
		// give; nil accepts digest mismatches, network errors and 5xx.
		failure func(error) bool
	}{
		{name: "mixed", proxy: pushProxyOptions{cleanPct: 50, stall: longStall}, retries: 4, rounds: 3},
		// Cut 70% into every large body: the hub keeps what arrived, and
		// the client goes on from there.
		{name: "cut-resumes", proxy: pushProxyOptions{faults: []pushFault{pushCut}, cutFrac: 0.7}, retries: 4, rounds: 1, want: mustComplete, resumes: true},
		// Two blobs damaged on the way: the hub refuses them, and berth
		// sends them again.
		{name: "flipped-twice", proxy: pushProxyOptions{faults: []pushFault{pushFlip}, every: true, budget: 2}, retries: 4, rounds: 1, want: mustComplete},
		{name: "flipped", proxy: pushProxyOptions{faults: []pushFault{pushFlip}, every: true}, retries: 4, rounds: 1, want: mustFail,
			failure: func(err error) bool { return errors.Is(err, errdefs.ErrDigestMismatch) }},
		// Upload requests refused, the upload itself going on: a chunk
		// refused first of all is resent from the start.
		{name: "503-sometimes", proxy: pushProxyOptions{faults: []pushFault{push503}}, retries: 4, rounds: 1, failure: is503},
		{name: "503-always", proxy: pushProxyOptions{faults: []pushFault{push503}, first: true}, retries: 2, rounds: 1, want: mustFail, failure: is503},
		{name: "stalled", proxy: pushProxyOptions{faults: []pushFault{pushStall}, cleanPct: 40, stall: longStall}, retries: 3, rounds: 1,
			failure: func(err error) bool { return errors.Is(err, client.ErrStalled) }},
		{name: "lost-answers", proxy: pushProxyOptions{faults: []pushFault{pushLost}, cleanPct: 30}, retries: 4, rounds: 1},
		{name: "slow-answers", proxy: pushProxyOptions{faults: []pushFault{pushSlow}, cleanPct: 30, stall: longStall}, retries: 4, rounds: 1},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for round := range tc.rounds {
				o := tc.proxy
				o.seed = uint64(time.Now().UnixNano())
				// A proxy per round is a registry host per round: nothing
				// remembered from another round is mounted or skipped.
				px := newPushProxy(t, h.Listener.Addr().String(), o)
				path := fmt.Sprintf("test/c%dr%d", ci, round)
				name := px.host() + "/" + path + ":1"
				if err := e.Tag(ctx, "faults:1", name); err != nil {
					t.Fatal(err)
				}
				before, _ := localState(t, e)
				pctx, cancel := context.WithTimeout(ctx, time.Minute)
				start := time.Now()
				_, err := e.Push(pctx, name, PushOptions{Registry: newClient(tc.retries)})
				hung := pctx.Err() != nil
				cancel()
				t.Logf("round %d (seed %d): %v in %v; damaged requests: %s", round, o.seed, err, time.Since(start).Round(time.Millisecond), px.damaged())
				if hung {
					t.Fatalf("round %d: the push hung: %v", round, err)
				}
				if o.stall > 0 && time.Since(start) > o.stall {
					t.Errorf("round %d: the push waited out a stall of %v instead of giving up", round, o.stall)
				}
				checkHubBlobs(t, h)
				if err == nil {
					if tc.want == mustFail {
						t.Fatalf("round %d: the push completed", round)
					}
					checkPushed(t, h, path, ref)
					// Started over each time, an upload cut at 70% of every
					// body would never end. Resumed, it sends each byte about
					// once: a request that failed on the way can still land
					// after the client asked how much arrived, and its bytes
					// are sent again.
					if tc.resumes && px.sent.Load() > ref.bytes()*3/2 {
						t.Errorf("round %d: %d bytes sent for %d: uploads started over instead of resuming", round, px.sent.Load(), ref.bytes())
					}
					continue
				}
				if tc.want == mustComplete {
					t.Fatalf("round %d: %v", round, err)
				}
				ok := errors.Is(err, errdefs.ErrDigestMismatch) || client.IsNetwork(err) || client.IsTransient(err)
				if tc.failure != nil {
					ok = tc.failure(err)
				}
				if !ok {
					t.Errorf("round %d: an unexpected kind of error: %v", round, err)
				}
				after, remembered := localState(t, e)
				if after != before {
					t.Errorf("round %d: the failed push changed the store:\n%s\nwas:\n%s", round, after, before)
				}
				checkStore(t, e)
				retryAfterFailure(t, e, h, px, path, name, ref, remembered)
			}
		})
	}

	// A push killed with SIGKILL in the middle of its uploads, just after
	// the hub accepted a second blob (before it could be remembered, most
	// likely), then run again.
	t.Run("killed", func(t *testing.T) {
		px := newPushProxy(t, h.Listener.Addr().String(), pushProxyOptions{cleanPct: 100, rate: 2 << 20})
		root := t.TempDir()
		ke, err := Open(ctx, Options{Root: root, Runtime: ctr.Options{RuncPath: "/nonexistent/runc", RunDir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		load(t, ke, archive)
		name := px.host() + "/test/killed:1"
		if err := ke.Tag(ctx, "faults:1", name); err != nil {
			t.Fatal(err)
		}
		before, _ := localState(t, ke)
		ke.Close()

		cmd := exec.Command(os.Args[0], "-test.run=^TestPushChild$")
		cmd.Env = append(os.Environ(), pushChildEnv+"="+root+" "+name)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
		sc := bufio.NewScanner(out)
		pushed, killed := 0, ""
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasSuffix(sc.Text(), ": Pushed") {
				if pushed++; pushed == 2 {
					_ = cmd.Process.Signal(syscall.SIGKILL)
					killed = sc.Text()
				}
			}
		}
		timer.Stop()
		werr := cmd.Wait()
		if killed == "" {
			t.Fatalf("the push was not killed midway (%v); it said:\n%s", werr, strings.Join(lines, "\n"))
		}
		t.Logf("killed after %q: %v", killed, werr)

		ke, err = Open(ctx, Options{Root: root, Runtime: ctr.Options{RuncPath: "/nonexistent/runc", RunDir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		defer ke.Close()
		checkStore(t, ke)
		after, remembered := localState(t, ke)
		if after != before {
			t.Errorf("the killed push changed the store:\n%s\nwas:\n%s", after, before)
		}
		retryAfterFailure(t, ke, h, px, "test/killed", name, ref, remembered)
		checkHubBlobs(t, h)
	})
}

// pushChildEnv names, for TestPushChild, the store and the reference to
// push ("ROOT REF").
const pushChildEnv = "BERTH_TEST_PUSH_CHILD"

// TestPushChild is the process the killed case of TestPushThroughFaults
// starts and kills: a push printing its progress, one line per event.
func TestPushChild(t *testing.T) {
	arg := os.Getenv(pushChildEnv)
	if arg == "" {
		t.Skip("SKIPPED: only run as the process TestPushThroughFaults/killed kills")
	}
	root, name, _ := strings.Cut(arg, " ")
	ctx := context.Background()
	e, err := Open(ctx, Options{Root: root, Runtime: ctr.Options{RuncPath: "/nonexistent/runc", RunDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := client.New(client.Options{ChunkSize: 128 << 10})
	_, err = e.Push(ctx, name, PushOptions{Registry: c, Progress: func(p Progress) { fmt.Printf("%s: %s\n", p.ID, p.Status) }})
	if err != nil {
		t.Fatal(err)
	}
}

func is503(err error) bool {
	var re *client.Error
	return errors.As(err, &re) && re.Status == http.StatusServiceUnavailable
}

// retryAfterFailure pushes again, through the same proxy without faults:
// the push completes and uploads nothing the hub already accepted.
func retryAfterFailure(t *testing.T, e *Engine, h *hubtest.Hub, px *pushProxy, path, name string, ref pushedImage, remembered []store.LayerBlob) {
	t.Helper()
	px.off.Store(true)
	px.quiesce(t)
	had := hubHas(t, h, path, ref)
	skip := map[digest.Digest]bool{}
	for _, lb := range remembered {
		if lb.Registry != px.host()+"/"+path {
			continue
		}
		// Only blobs the hub accepted are remembered, and under the digest
		// the reference push gave them.
		i := slices.Index(ref.diffIDs, lb.DiffID)
		if !had[lb.Blob] || i < 0 || ref.layers[i].Digest != lb.Blob {
			t.Errorf("remembered %s for layer %s, which the hub does not hold", lb.Blob, lb.DiffID)
		}
		skip[lb.Blob] = true
	}
	for d := range ref.stored {
		if had[d] {
			skip[d] = true
		}
	}
	want := int64(0)
	for _, l := range ref.layers {
		if !skip[l.Digest] {
			want += l.Size
		}
	}
	if !had[ref.config.Digest] {
		want += ref.config.Size
	}
	t.Logf("pushing again: the hub had %d of %d blobs, %d remembered, %d to skip", len(had), len(ref.layers)+1, len(remembered), len(skip))
	sentBefore := px.sent.Load()
	// The client's default timeouts: nothing stalls now, and a slow
	// moment of a loaded machine must not make it send anything twice.
	c := client.New(client.Options{ChunkSize: 128 << 10})
	var rec recorder
	pushed, err := e.Push(context.Background(), name, PushOptions{Registry: c, Progress: rec.add})
	if err != nil {
		t.Fatalf("the push after a failure: %v", err)
	}
	checkPushed(t, h, path, ref)
	want += int64(pushed[0].Size)
	if got := px.sent.Load() - sentBefore; got != want {
		t.Errorf("the push after a failure sent %d bytes, want %d (the hub had %d of %d blobs)", got, want, len(had), len(ref.layers)+1)
	}
	for i, l := range ref.layers {
		got := rec.statuses(image.ShortID(ref.diffIDs[i]))
		if last := got[len(got)-1]; skip[l.Digest] && last != "Layer already exists" || !skip[l.Digest] && last != "Pushed" {
			t.Errorf("layer %d after a failure (hub had it: %v, remembered or stored: %v): %v", i, had[l.Digest], skip[l.Digest], got)
		}
	}
	checkStore(t, e)
}

// bytes is what a push of the image sends when the hub has none of it:
// its blobs and manifest.
func (p pushedImage) bytes() int64 {
	n := int64(0)
	for _, b := range p.blobs() {
		n += b.Size
	}
	return n + 2048 // the manifest
}

func (p *pushProxy) damaged() string {
	var parts []string
	for f := pushCut; f < pushFaultCount; f++ {
		if n := p.counts[f].Load(); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", pushFaultNames[f], n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
