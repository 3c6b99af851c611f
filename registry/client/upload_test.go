package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/retry"
)

// faultyHub serves a hub, except that the first `times` requests match
// picks (all of them when times is 0) go to fault. It counts the body
// bytes the hub itself reads from uploads.
type faultyHub struct {
	hub      http.Handler
	match    func(*http.Request) bool
	fault    func(w http.ResponseWriter, r *http.Request, f *faultyHub)
	quit     chan struct{} // closed at the end: no handler may outlive the test
	times    int32
	n        atomic.Int32
	received atomic.Int64
}

func (f *faultyHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.match(r) && (f.times == 0 || f.n.Add(1) <= f.times) {
		f.fault(w, r, f)
		return
	}
	f.toHub(w, r)
}

// toHub hands a request to the hub, counting what it reads of uploads.
func (f *faultyHub) toHub(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPatch || r.Method == http.MethodPut {
		r.Body = &countBody{ReadCloser: r.Body, n: &f.received}
	}
	f.hub.ServeHTTP(w, r)
}

type countBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// halfBody ends a body, as a broken connection does, halfway.
type halfBody struct {
	io.ReadCloser
	left int64
}

func (h *halfBody) Read(p []byte) (int, error) {
	if h.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > h.left {
		p = p[:h.left]
	}
	n, err := h.ReadCloser.Read(p)
	h.left -= int64(n)
	return n, err
}

func hangUp(w http.ResponseWriter) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}

// The ways an upload request can fail.
var (
	refuse503 = func(w http.ResponseWriter, r *http.Request, _ *faultyHub) {
		w.WriteHeader(http.StatusServiceUnavailable) // before reading a byte
	}
	cutHalfway = func(w http.ResponseWriter, r *http.Request, f *faultyHub) {
		r.Body = &halfBody{ReadCloser: r.Body, left: r.ContentLength / 2}
		f.toHub(httptest.NewRecorder(), r)
		hangUp(w)
	}
	loseAnswer = func(w http.ResponseWriter, r *http.Request, f *faultyHub) {
		f.toHub(httptest.NewRecorder(), r)
		hangUp(w)
	}
	// A server that reads nothing does not notice the client leave.
	neverRead = func(w http.ResponseWriter, r *http.Request, f *faultyHub) {
		<-f.quit
		hangUp(w)
	}
	neverAnswer = func(w http.ResponseWriter, r *http.Request, f *faultyHub) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-f.quit:
		}
	}
)

func isPatch(r *http.Request) bool { return r.Method == http.MethodPatch }
func isPutWithBody(r *http.Request) bool {
	return r.Method == http.MethodPut && r.ContentLength > 0
}
func isPut(r *http.Request) bool { return r.Method == http.MethodPut }

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestUploadFaults: an upload request that fails on the way is resumed
// from what the registry says it has, each byte reaching it once; one
// that stalls ends in ErrStalled instead of waiting forever.
func TestUploadFaults(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	sizes := map[string]int{"chunks": 300 << 10, "single": 200 << 10, "stream": 3 << 20}
	cases := []struct {
		name  string
		match func(*http.Request) bool
		times int32
		fault func(http.ResponseWriter, *http.Request, *faultyHub)
		push  string // chunks (Write, Commit), single (PushBlob in one PUT), stream (PushBlob streamed), endless
		want  error  // nil: the blob arrives
	}{
		// The registry says "0-0" for an empty upload: that is 0 bytes.
		{"first chunk refused", isPatch, 1, refuse503, "chunks", nil},
		{"chunk cut halfway", isPatch, 2, cutHalfway, "chunks", nil},
		{"last bytes cut halfway", isPutWithBody, 1, cutHalfway, "chunks", nil},
		{"single PUT cut halfway", isPutWithBody, 2, cutHalfway, "single", nil},
		{"single PUT refused", isPutWithBody, 1, refuse503, "single", nil},
		{"commit answer lost", isPut, 1, loseAnswer, "stream", nil},
		{"stream cut halfway", isPatch, 2, cutHalfway, "stream", nil},
		{"stream never read once", isPatch, 1, neverRead, "stream", nil},
		{"chunk never answered once", isPatch, 1, neverAnswer, "chunks", nil},
		{"stream never read", isPatch, 0, neverRead, "endless", ErrStalled},
		{"stream never answered", isPatch, 0, neverAnswer, "stream", ErrStalled},
		{"commit never answered", isPut, 0, neverAnswer, "single", ErrStalled},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fh := &faultyHub{hub: h.Hub, match: tc.match, fault: tc.fault, times: tc.times, quit: make(chan struct{})}
			srv := httptest.NewServer(fh)
			defer srv.Close()
			defer close(fh.quit)
			c := New(Options{Backoff: time.Millisecond, StallTimeout: 200 * time.Millisecond, Retries: 2, ChunkSize: 64 << 10})
			// A blob of its own in a repository of its own: the hub has
			// nothing from another case to skip to.
			repo := c.Repository(srv.Listener.Addr().String(), "test/upload"+strconv.Itoa(i))
			// Without a watchdog a stalled upload waits forever: bound it
			// here, so that such a failure says so.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			blob := make([]byte, sizes[tc.push])
			rand.Read(blob)
			desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
			start := time.Now()
			var err error
			switch tc.push {
			case "chunks":
				var up *Upload
				if up, err = repo.StartUpload(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err = io.Copy(up, bytes.NewReader(blob)); err == nil {
					err = up.Commit(desc.Digest)
				}
			case "endless":
				// More than socket buffers hold: the write itself blocks.
				desc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("endless"), Size: 1 << 30}
				err = repo.PushBlob(ctx, desc, nil, func(int64) (io.ReadCloser, error) { return io.NopCloser(zeros{}), nil }, nil)
			default:
				err = repo.PushBlob(ctx, desc, nil, func(off int64) (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(blob[off:])), nil
				}, nil)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !IsTransient(err) {
					t.Fatalf("want a transient error wrapping %v, got %v", tc.want, err)
				}
				t.Logf("the error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fh.n.Load() == 0 {
				t.Fatal("no request was damaged")
			}
			if got := readBlob(t, repo, desc); !bytes.Equal(got, blob) {
				t.Fatal("the blob differs")
			}
			if got := fh.received.Load(); got != desc.Size {
				t.Errorf("the hub read %d bytes of a %d-byte blob: the upload did not resume where it stopped", got, desc.Size)
			}
		})
	}
}

// TestCommitLandsLate: the PUT closing an upload reaches the registry but
// its answer does not come; the registry stores the blob only after the
// client's HEAD found nothing, so the upload is gone when the client asks
// for its status. That is a blob arrived, not a failed upload.
func TestCommitLandsLate(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	blob := make([]byte, 100<<10)
	rand.Read(blob)
	d := digest.FromBytes(blob)
	headDone := make(chan struct{})
	committed := make(chan struct{})
	var puts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && puts.Add(1) == 1:
			body, _ := io.ReadAll(r.Body)
			<-r.Context().Done() // the client gave up waiting
			<-headDone
			r2 := r.Clone(context.Background())
			r2.Body = io.NopCloser(bytes.NewReader(body))
			h.Hub.ServeHTTP(httptest.NewRecorder(), r2)
			close(committed)
			return
		case r.Method == http.MethodHead && puts.Load() == 1:
			h.Hub.ServeHTTP(w, r)
			select {
			case <-headDone:
			default:
				close(headDone)
			}
			return
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/uploads/"):
			<-committed
		}
		h.Hub.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := New(Options{Backoff: time.Millisecond, StallTimeout: 200 * time.Millisecond, Retries: 2})
	repo := c.Repository(srv.Listener.Addr().String(), "test/late")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: int64(len(blob))}
	err := repo.PushBlob(ctx, desc, nil, func(off int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob[off:])), nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, repo, desc); !bytes.Equal(got, blob) {
		t.Fatal("the blob differs")
	}
}

// TestStaleUploadRequests: an upload request that failed on the way lands
// at the registry after the client asked how much had arrived. A PATCH
// carries its range, so the client's resend is refused and the client
// asks again and goes on; a closing PUT appends blindly, so the upload is
// out of step, which a new upload (as the engine's retry makes) mends.
func TestStaleUploadRequests(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	once := func(f func()) func() {
		var o sync.Once
		return func() { o.Do(f) }
	}
	cases := []struct {
		name string
		// stale is the request that lands late, resend the one it must
		// land after, and last the one that waits for it.
		stale, resend, last func(*http.Request) bool
		push                string
		outOfStep           bool
	}{
		{"a chunk lands after the status", isPatch, isStatus, isPatch, "chunks", false},
		{"the closing PUT lands after the resend", isPutWithBody, isPatch, isPut, "single", true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var staleSeen, resendSeen, lastSeen atomic.Bool
			resent, landed := make(chan struct{}), make(chan struct{})
			closeResent, closeLanded := once(func() { close(resent) }), once(func() { close(landed) })
			defer closeResent()
			defer closeLanded()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case tc.stale(r) && staleSeen.CompareAndSwap(false, true):
					body, _ := io.ReadAll(r.Body)
					hangUp(w)
					<-resent
					r2 := r.Clone(context.Background())
					r2.Body = io.NopCloser(bytes.NewReader(body))
					h.Hub.ServeHTTP(httptest.NewRecorder(), r2)
					closeLanded()
					return
				case staleSeen.Load() && tc.resend(r) && resendSeen.CompareAndSwap(false, true):
					h.Hub.ServeHTTP(w, r)
					closeResent()
					return
				case resendSeen.Load() && tc.last(r) && lastSeen.CompareAndSwap(false, true):
					<-landed
				}
				h.Hub.ServeHTTP(w, r)
			}))
			defer srv.Close()
			c := New(Options{Backoff: time.Millisecond, StallTimeout: 5 * time.Second, Retries: 2, ChunkSize: 64 << 10})
			repo := c.Repository(srv.Listener.Addr().String(), "test/stale"+strconv.Itoa(i))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			blob := make([]byte, 100<<10)
			rand.Read(blob)
			desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
			push := func() error {
				if tc.push == "chunks" {
					up, err := repo.StartUpload(ctx)
					if err != nil {
						return err
					}
					if _, err = io.Copy(up, bytes.NewReader(blob)); err != nil {
						return err
					}
					return up.Commit(desc.Digest)
				}
				return repo.PushBlob(ctx, desc, nil, func(off int64) (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(blob[off:])), nil
				}, nil)
			}
			err := push()
			if !lastSeen.Load() {
				t.Fatalf("the stale request did not land as planned: %v", err)
			}
			if tc.outOfStep {
				if !errors.Is(err, errOutOfStep) || !IsTransient(err) {
					t.Fatalf("want a transient out-of-step error, got %v", err)
				}
				t.Logf("the error: %v", err)
				err = push() // a new upload, as the engine retries
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readBlob(t, repo, desc); !bytes.Equal(got, blob) {
				t.Fatal("the blob differs")
			}
		})
	}
}

func isStatus(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/uploads/")
}

// TestUploadCredentialsStayHome: a registry may hand uploads to another
// host (a storage service) with an absolute Location. The resumed and
// retried requests of a broken upload go there without the registry's
// credentials, and the registry gets them only on its own host.
func TestUploadCredentialsStayHome(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	var leaked atomic.Value
	leaked.Store("")
	var cuts atomic.Int32
	uploads := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			leaked.Store(r.Method + " " + r.URL.Path + " got " + a)
		}
		// The first PATCH and the first PUT with bytes break halfway.
		if (isPatch(r) || isPutWithBody(r)) && cuts.Add(1) <= 2 {
			cutHalfway(w, r, &faultyHub{hub: h.Hub})
			return
		}
		h.Hub.ServeHTTP(w, r)
	}))
	defer uploads.Close()
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			rec := httptest.NewRecorder()
			h.Hub.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			if loc := rec.Header().Get("Location"); loc != "" {
				w.Header().Set("Location", uploads.URL+loc)
			}
			w.WriteHeader(rec.Code)
			return
		}
		h.Hub.ServeHTTP(w, r)
	}))
	defer registry.Close()
	host := registry.Listener.Addr().String()
	c := New(Options{Credentials: creds{host: {"alice", "secret"}}, Backoff: time.Millisecond, Retries: 3})
	repo := c.Repository(host, "alice/app", "pull", "push")
	ctx := context.Background()
	for _, size := range []int{3 << 20, 100 << 10} { // streamed, then in one PUT
		blob := make([]byte, size)
		rand.Read(blob)
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(size)}
		err := repo.PushBlob(ctx, desc, nil, func(off int64) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(blob[off:])), nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, repo, desc); !bytes.Equal(got, blob) {
			t.Fatal("the blob differs")
		}
	}
	if cuts.Load() < 2 {
		t.Fatalf("%d uploads broke, want 2", cuts.Load())
	}
	if s := leaked.Load().(string); s != "" {
		t.Fatalf("credentials went to the upload host: %s", s)
	}
}

// TestUploadRetriesOnce: the retries of an upload do not multiply. Behind
// a handler that refuses every request sending the blob's bytes (PATCH,
// PUT) with a 503, an upload, streamed or in one request, sends exactly
// the policy's attempts of them; the questions between them (the upload's
// status, whether the blob arrived) go through and are not counted.
func TestUploadRetriesOnce(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	policy := retry.Policy{Attempts: 3, Base: time.Millisecond}
	for _, size := range []int{100 << 10, 2 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			var sends atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
					sends.Add(1)
					_, _ = io.Copy(io.Discard, r.Body)
					http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`, http.StatusServiceUnavailable)
					return
				}
				h.Hub.ServeHTTP(w, r)
			}))
			defer srv.Close()
			blob := make([]byte, size)
			_, _ = rand.Read(blob)
			desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(size)}
			c := New(Options{Retry: policy, Transport: &http.Transport{DisableKeepAlives: true}})
			repo := c.Repository(srv.Listener.Addr().String(), "test/retry")
			err := repo.PushBlob(context.Background(), desc, nil, func(off int64) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(blob[off:])), nil
			}, nil)
			if !IsTransient(err) {
				t.Fatalf("want the 503 after the attempts: %v", err)
			}
			if n := sends.Load(); n != int32(policy.Attempts) {
				t.Errorf("the upload sent its bytes %d times, want the policy's %d attempts", n, policy.Attempts)
			}
		})
	}
}
