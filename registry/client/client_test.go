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

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/hubtest"
)

// creds is a fixed credential store.
type creds map[string][2]string

func (c creds) Credentials(host string) (string, string, bool) {
	v, ok := c[host]
	return v[0], v[1], ok
}

// countingTransport counts requests by path prefix and records headers.
type countingTransport struct {
	mu    sync.Mutex
	paths map[string]int
	rt    http.RoundTripper
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.paths == nil {
		c.paths = map[string]int{}
	}
	c.paths[req.URL.Path]++
	c.mu.Unlock()
	return c.rt.RoundTrip(req)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[path]
}

func readBlob(t *testing.T, r *Repository, desc ocispec.Descriptor) []byte {
	t.Helper()
	rc, err := r.OpenBlob(context.Background(), desc, 0)
	if err != nil {
		t.Fatalf("OpenBlob %s: %v", desc.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", desc.Digest, err)
	}
	if digest.FromBytes(b) != desc.Digest {
		t.Fatalf("blob %s read back hashing to %s", desc.Digest, digest.FromBytes(b))
	}
	return b
}

func TestPullPublicAndPrivateWithTokens(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true})
	h.AddUser(t, "alice", "secret")
	pub := h.PushRandom(t, "alice/app:v1", 2, 4096)
	priv := h.PushRandom(t, "alice/private:v1", 1, 1024)
	h.SetRepo(t, "alice/private", hubtest.Repo{Private: hubtest.Ptr(true)})
	ctx := context.Background()

	tr := &countingTransport{rt: http.DefaultTransport}
	anon := New(Options{Transport: tr})
	repo := anon.Repository(h.Host, "alice/app")
	m, err := repo.Manifest(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest != pub.Digest || !bytes.Equal(m.Raw, pub.Manifest) || m.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("manifest %s %s, want %s", m.Digest, m.MediaType, pub.Digest)
	}
	if _, err := repo.Manifest(ctx, pub.Digest.String()); err != nil {
		t.Fatalf("by digest: %v", err)
	}
	for _, l := range pub.Layers {
		if got := readBlob(t, repo, l.Descriptor); !bytes.Equal(got, l.Data) {
			t.Fatal("layer differs")
		}
	}
	if n := tr.count("/token"); n != 1 {
		t.Errorf("anonymous pull asked for %d tokens, want 1 (cached per scope)", n)
	}

	_, err = anon.Repository(h.Host, "alice/private").Manifest(ctx, "v1")
	if !errors.Is(err, errdefs.ErrUnauthorized) && !errors.Is(err, errdefs.ErrDenied) {
		t.Fatalf("anonymous pull of a private repository: %v", err)
	}

	alice := New(Options{Credentials: creds{h.Host: {"alice", "secret"}}})
	pm, err := alice.Repository(h.Host, "alice/private").Manifest(ctx, "v1")
	if err != nil {
		t.Fatalf("alice pulls her private repository: %v", err)
	}
	if pm.Digest != priv.Digest {
		t.Fatalf("private manifest %s, want %s", pm.Digest, priv.Digest)
	}
	readBlob(t, alice.Repository(h.Host, "alice/private"), priv.Layers[0].Descriptor)

	wrong := New(Options{Credentials: creds{h.Host: {"alice", "nope"}}})
	_, err = wrong.Repository(h.Host, "alice/app").Manifest(ctx, "v1")
	if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "incorrect username or password") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := alice.Login(ctx, h.Host, "alice", "secret"); err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := anon.Login(ctx, h.Host, "alice", "nope"); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("login with a wrong password: %v", err)
	}
}

func TestPushChunkedMountTagsReferrers(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true})
	h.AddUser(t, "alice", "secret")
	ctx := context.Background()
	c := New(Options{Credentials: creds{h.Host: {"alice", "secret"}}, ChunkSize: 1000})
	repo := c.Repository(h.Host, "alice/app", "pull", "push")

	blob := make([]byte, 4500) // five chunks, the last short
	rand.Read(blob)
	d := digest.FromBytes(blob)
	up, err := repo.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(up, bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(d); err != nil {
		t.Fatal(err)
	}
	if n, err := repo.StatBlob(ctx, d); err != nil || n != int64(len(blob)) {
		t.Fatalf("stat after chunked upload: %d %v", n, err)
	}

	big := make([]byte, 3<<20)
	rand.Read(big)
	bigDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(big), Size: int64(len(big))}
	var last int64
	err = repo.PushBlob(ctx, bigDesc, nil, func(off int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(big[off:])), nil
	}, func(n int64) { last = n })
	if err != nil {
		t.Fatal(err)
	}
	if last != bigDesc.Size {
		t.Errorf("progress ended at %d, want %d", last, bigDesc.Size)
	}

	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	if err := repo.PushBlob(ctx, cfgDesc, nil, func(int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cfg)), nil }, nil); err != nil {
		t.Fatal(err)
	}
	man := []byte(`{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageManifest + `","config":{"mediaType":"` + cfgDesc.MediaType + `","digest":"` + cfgDesc.Digest.String() + `","size":` + itoa(cfgDesc.Size) + `},"layers":[{"mediaType":"` + ocispec.MediaTypeImageLayer + `","digest":"` + d.String() + `","size":4500}]}`)
	md, err := repo.PutManifest(ctx, "v1", ocispec.MediaTypeImageManifest, man)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"v2", "v3"} {
		if _, err := repo.PutManifest(ctx, tag, ocispec.MediaTypeImageManifest, man); err != nil {
			t.Fatal(err)
		}
	}
	tags, err := repo.Tags(ctx)
	if err != nil || strings.Join(tags, ",") != "v1,v2,v3" {
		t.Fatalf("tags %v %v", tags, err)
	}
	if desc, err := repo.HeadManifest(ctx, "v1"); err != nil || desc.Digest != md {
		t.Fatalf("HEAD manifest: %v %v", desc, err)
	}

	other := c.Repository(h.Host, "alice/other", "pull", "push")
	mounted, up2, err := other.Mount(ctx, d, "alice/app")
	if err != nil || !mounted || up2 != nil {
		t.Fatalf("mount: %v %v %v", mounted, up2, err)
	}
	if _, err := other.StatBlob(ctx, d); err != nil {
		t.Fatalf("mounted blob: %v", err)
	}
	// A blob the source does not have is not mounted: an upload starts.
	mounted, up3, err := other.Mount(ctx, digest.FromString("nothing"), "alice/app")
	if err != nil || mounted || up3 == nil {
		t.Fatalf("mount of a missing blob: %v %v %v", mounted, up3, err)
	}
	up3.Cancel()

	art := []byte(`{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageManifest + `","artifactType":"application/vnd.example.sbom","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"` + ocispec.MediaTypeImageLayer + `","digest":"` + d.String() + `","size":4500}],"subject":{"mediaType":"` + ocispec.MediaTypeImageManifest + `","digest":"` + md.String() + `","size":` + itoa(int64(len(man))) + `}}`)
	empty := []byte("{}")
	if err := repo.PushBlob(ctx, ocispec.Descriptor{Digest: digest.FromBytes(empty), Size: 2}, nil, func(int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(empty)), nil }, nil); err != nil {
		t.Fatal(err)
	}
	ad, err := repo.PutManifest(ctx, "", ocispec.MediaTypeImageManifest, art)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := repo.Referrers(ctx, md, "")
	if err != nil || len(refs) != 1 || refs[0].Digest != ad || refs[0].ArtifactType != "application/vnd.example.sbom" {
		t.Fatalf("referrers: %+v %v", refs, err)
	}
	refs, err = repo.Referrers(ctx, md, "application/other")
	if err != nil || len(refs) != 0 {
		t.Fatalf("filtered referrers: %+v %v", refs, err)
	}

	// Anonymous users may not push.
	anon := New(Options{}).Repository(h.Host, "alice/app", "pull", "push")
	if _, err := anon.StartUpload(ctx); !errors.Is(err, errdefs.ErrUnauthorized) && !errors.Is(err, errdefs.ErrDenied) {
		t.Fatalf("anonymous push: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSearchAndBadges(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true})
	c := New(Options{})
	res, err := c.Search(context.Background(), h.Host, "welcome", 25)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 || res[0].Name != "welcome" || !res[0].IsOfficial || res[0].StarCount != 42 {
		t.Fatalf("search results: %+v", res)
	}
	badges, err := c.Badges(context.Background(), h.Host, "welcome", 25)
	if err != nil || badges["welcome"] != "official" {
		t.Fatalf("badges: %v %v", badges, err)
	}
}

// flaky answers the first n requests matching a path fragment with 503,
// then passes requests to next.
func flaky(next http.Handler, fragment string, n int32) http.Handler {
	var count atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, fragment) && count.Add(1) <= n {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestRetriesTransientStatuses(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	img := h.PushRandom(t, "bob/app:v1", 1, 1000)
	srv := httptest.NewServer(flaky(h.Hub, "/manifests/", 3))
	defer srv.Close()
	c := New(Options{Backoff: time.Millisecond})
	m, err := c.Repository(srv.Listener.Addr().String(), "bob/app").Manifest(context.Background(), "v1")
	if err != nil || m.Digest != img.Digest {
		t.Fatalf("after three 503s: %v %v", m.Digest, err)
	}
	c = New(Options{Backoff: time.Millisecond, Retries: 2})
	srv2 := httptest.NewServer(flaky(h.Hub, "/manifests/", 10))
	defer srv2.Close()
	_, err = c.Repository(srv2.Listener.Addr().String(), "bob/app").Manifest(context.Background(), "v1")
	if !IsTransient(err) {
		t.Fatalf("after retries are spent, want the 503: %v", err)
	}
}

// cutBodies sends only the first half of every blob body not asked for
// with Range, then breaks the connection.
func cutBodies(next http.Handler, ranges *[]string, mu *sync.Mutex) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			next.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		*ranges = append(*ranges, r.Header.Get("Range"))
		mu.Unlock()
		if r.Header.Get("Range") != "" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
}

func TestBlobResumesWithRange(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	img := h.PushRandom(t, "bob/app:v1", 1, 200000)
	var ranges []string
	var mu sync.Mutex
	srv := httptest.NewServer(cutBodies(h.Hub, &ranges, &mu))
	defer srv.Close()
	c := New(Options{Backoff: time.Millisecond})
	repo := c.Repository(srv.Listener.Addr().String(), "bob/app")
	l := img.Layers[0]
	if got := readBlob(t, repo, l.Descriptor); !bytes.Equal(got, l.Data) {
		t.Fatal("resumed blob differs")
	}
	mu.Lock()
	got := append([]string(nil), ranges...)
	mu.Unlock()
	if len(got) != 2 || got[0] != "" || got[1] != "bytes="+itoa(l.Size/2)+"-" {
		t.Fatalf("requests' Range headers: %q", got)
	}
	// Resuming from an offset given by the caller asks for the rest only.
	rc, err := repo.OpenBlob(context.Background(), l.Descriptor, 1000)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(rest, l.Data[1000:]) {
		t.Fatal("blob from offset differs")
	}
}

func TestStallIsResumed(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	img := h.PushRandom(t, "bob/app:v1", 1, 100000)
	var stalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && stalls.Add(1) == 1 {
			rec := httptest.NewRecorder()
			h.Hub.ServeHTTP(rec, r)
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes()[:1000])
			w.(http.Flusher).Flush()
			<-r.Context().Done() // stall until the client gives up
			return
		}
		h.Hub.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := New(Options{Backoff: time.Millisecond, StallTimeout: 200 * time.Millisecond})
	start := time.Now()
	got := readBlob(t, c.Repository(srv.Listener.Addr().String(), "bob/app"), img.Layers[0].Descriptor)
	if !bytes.Equal(got, img.Layers[0].Data) {
		t.Fatal("blob differs after a stall")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("stall took %s to notice", time.Since(start))
	}
}

// TestCredentialsStayHome: a blob redirect to another host, and foreign
// URLs, never see the registry's Authorization header.
func TestCredentialsStayHome(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	blob := []byte("layer bytes that live in storage")
	d := digest.FromBytes(blob)
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			leaked.Store(r.URL.Path + " got " + a)
		}
		if r.URL.Path == "/challenge" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="evil"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/token" {
			leaked.Store("the foreign server's token realm was called")
		}
		w.Write(blob)
	}))
	defer storage.Close()
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/v2/":
		case strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()):
			http.Redirect(w, r, storage.URL+"/data/"+d.Encoded(), http.StatusTemporaryRedirect)
		default:
			http.NotFound(w, r)
		}
	}))
	defer registry.Close()
	host := registry.Listener.Addr().String()
	c := New(Options{Credentials: creds{host: {"alice", "secret"}}, Backoff: time.Millisecond, Retries: 1})
	repo := c.Repository(host, "alice/app")
	got := readBlob(t, repo, ocispec.Descriptor{Digest: d, Size: int64(len(blob))})
	if !bytes.Equal(got, blob) {
		t.Fatal("redirected blob differs")
	}
	if s := leaked.Load().(string); s != "" {
		t.Fatalf("credentials crossed the redirect: %s", s)
	}
	// The registry lacks this blob; its foreign URLs answer without credentials.
	other := digest.FromString("foreign")
	foreign := ocispec.Descriptor{MediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Digest: d, Size: int64(len(blob)),
		URLs: []string{storage.URL + "/challenge", storage.URL + "/foreign/" + other.Encoded()}}
	foreign.Digest = d
	r2 := c.Repository(host, "alice/lacks")
	got = readBlob(t, r2, foreign)
	if !bytes.Equal(got, blob) {
		t.Fatal("foreign blob differs")
	}
	if s := leaked.Load().(string); s != "" {
		t.Fatalf("credentials went to a foreign URL: %s", s)
	}
}

func TestManifestVerification(t *testing.T) {
	good := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	var mode atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
		switch mode.Load().(string) {
		case "lie":
			w.Header().Set("Docker-Content-Digest", digest.FromString("other").String())
			w.Write(good)
		case "huge":
			w.Write(bytes.Repeat([]byte(" "), 5<<20))
		default:
			w.Write(good)
		}
	}))
	defer srv.Close()
	c := New(Options{Backoff: time.Millisecond, Retries: 1})
	repo := c.Repository(srv.Listener.Addr().String(), "x/y")
	ctx := context.Background()
	mode.Store("ok")
	if m, err := repo.Manifest(ctx, "v1"); err != nil || m.Digest != digest.FromBytes(good) {
		t.Fatalf("plain manifest: %v", err)
	}
	if _, err := repo.Manifest(ctx, digest.FromString("not it").String()); !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("by a digest the bytes do not have: %v", err)
	}
	mode.Store("lie")
	if _, err := repo.Manifest(ctx, "v1"); !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("Docker-Content-Digest that does not match: %v", err)
	}
	mode.Store("huge")
	if _, err := repo.Manifest(ctx, "v1"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("oversized manifest: %v", err)
	}
}

func TestInsecureRegistries(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	img := h.PushRandom(t, "bob/app:v1", 1, 100)
	tlsSrv := httptest.NewTLSServer(h.Hub)
	defer tlsSrv.Close()
	ctx := context.Background()
	tlsHost := tlsSrv.Listener.Addr().String()

	// Loopback without configuration: plain HTTP, which a TLS server refuses.
	if _, err := New(Options{Retries: -1}).Repository(tlsHost, "bob/app").Manifest(ctx, "v1"); err == nil {
		t.Fatal("plain HTTP to a TLS server worked")
	}
	// Listed as insecure: HTTPS without verification.
	c := New(Options{Insecure: []string{tlsHost}})
	if m, err := c.Repository(tlsHost, "bob/app").Manifest(ctx, "v1"); err != nil || m.Digest != img.Digest {
		t.Fatalf("insecure HTTPS: %v", err)
	}
	// Listed as insecure by CIDR, without TLS: falls back to HTTP.
	c = New(Options{Insecure: []string{"127.0.0.0/8"}})
	if m, err := c.Repository(h.Host, "bob/app").Manifest(ctx, "v1"); err != nil || m.Digest != img.Digest {
		t.Fatalf("insecure fallback to HTTP: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true, "::1": true,
		"registry.example:5000": false, "10.0.0.1:5000": false, "localhost.example": false, "128.0.0.1": false,
	} {
		if IsLoopback(host) != want {
			t.Errorf("IsLoopback(%q) = %v", host, !want)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	chs := parseChallenges([]string{
		`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope"`,
		`Basic realm="x, y", charset=UTF-8`,
	})
	if len(chs) != 2 {
		t.Fatalf("got %+v", chs)
	}
	b := chs[0]
	if b.scheme != "bearer" || b.params["realm"] != "https://auth.example/token" || b.params["service"] != "registry.example" ||
		b.params["scope"] != "repository:a/b:pull,push" || b.params["error"] != "insufficient_scope" {
		t.Errorf("bearer: %+v", b)
	}
	if chs[1].scheme != "basic" || chs[1].params["realm"] != "x, y" || chs[1].params["charset"] != "UTF-8" {
		t.Errorf("basic: %+v", chs[1])
	}
	two := parseChallenges([]string{`Basic realm="a", Bearer realm="b",service="s"`})
	if len(two) != 2 || two[1].params["realm"] != "b" || two[1].params["service"] != "s" {
		t.Errorf("two in one header: %+v", two)
	}
	if got := parseChallenges([]string{`Bearer realm="unterminated`}); len(got) != 1 || got[0].params["realm"] != "" {
		t.Errorf("unterminated: %+v", got)
	}
}

func FuzzParseChallenges(f *testing.F) {
	f.Add(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`)
	f.Add(`Basic realm="x\"y", Bearer realm=b`)
	f.Add(`,,,=,"`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, ch := range parseChallenges([]string{s}) {
			if ch.scheme == "" || strings.ToLower(ch.scheme) != ch.scheme {
				t.Fatalf("bad scheme %q from %q", ch.scheme, s)
			}
		}
	})
}

// TestCredentialsNotSentToPlainHTTPRealm: a registry may name any token
// realm; Basic credentials only go to one reached over HTTPS (or on this
// machine, or listed as insecure).
func TestCredentialsNotSentToPlainHTTPRealm(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://192.0.2.1/token",service="elsewhere"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	host := srv.Listener.Addr().String()
	c := New(Options{Credentials: creds{host: {"alice", "secret"}}, Retries: -1})
	_, err := c.Repository(host, "a/b").Manifest(context.Background(), "v1")
	if !errors.Is(err, errdefs.ErrDenied) || !strings.Contains(err.Error(), "refusing to send the credentials") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("plain HTTP realm elsewhere: %v", err)
	}
}

func TestPingAndResolvePlatform(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{})
	amd := h.PushRandom(t, "bob/multi:amd64", 1, 100)
	arm := h.PushRandom(t, "bob/multi:arm64", 1, 100)
	c := New(Options{})
	if err := c.Ping(ctx, h.Host); err != nil {
		t.Fatal(err)
	}
	notRegistry := httptest.NewServer(http.NotFoundHandler())
	defer notRegistry.Close()
	if err := c.Ping(ctx, notRegistry.Listener.Addr().String()); err == nil || !strings.Contains(err.Error(), "does not answer as a registry") {
		t.Fatalf("ping of a web server: %v", err)
	}
	idx := `{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageIndex + `","manifests":[` +
		`{"mediaType":"` + amd.MediaType + `","digest":"` + amd.Digest.String() + `","size":` + itoa(int64(len(amd.Manifest))) + `,"platform":{"os":"linux","architecture":"amd64"}},` +
		`{"mediaType":"` + arm.MediaType + `","digest":"` + arm.Digest.String() + `","size":` + itoa(int64(len(arm.Manifest))) + `,"platform":{"os":"linux","architecture":"arm64"}}]}`
	repo := c.Repository(h.Host, "bob/multi", "pull", "push")
	d, err := repo.PutManifest(ctx, "multi", ocispec.MediaTypeImageIndex, []byte(idx))
	if err != nil {
		t.Fatal(err)
	}
	for plat, want := range map[string]digest.Digest{"arm64": arm.Digest, "amd64": amd.Digest} {
		res, err := repo.Resolve(ctx, "multi", ocispec.Platform{OS: "linux", Architecture: plat})
		if err != nil || res.Manifest.Digest != want || len(res.Indexes) != 1 || res.Indexes[0].Digest != d || res.Image.Config.Digest == "" {
			t.Errorf("%s: %+v %v", plat, res, err)
		}
	}
	if _, err := repo.Resolve(ctx, "multi", ocispec.Platform{OS: "linux", Architecture: "s390x"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("no such platform: %v", err)
	}
	res, err := repo.Resolve(ctx, "amd64", ocispec.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil || len(res.Indexes) != 0 || res.Manifest.Digest != amd.Digest {
		t.Errorf("a single-platform image resolves to itself: %+v %v", res, err)
	}
}
