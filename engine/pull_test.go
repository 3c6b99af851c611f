package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/seed"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/store"
)

type creds map[string][2]string

func (c creds) Credentials(host string) (string, string, bool) {
	v, ok := c[host]
	return v[0], v[1], ok
}

// recorder keeps progress messages.
type recorder struct {
	mu  sync.Mutex
	evs []Progress
}

func (r *recorder) add(p Progress) {
	r.mu.Lock()
	r.evs = append(r.evs, p)
	r.mu.Unlock()
}

// statuses lists the distinct statuses per ID, in order.
func (r *recorder) statuses(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		if e.ID == id && (len(out) == 0 || out[len(out)-1] != e.Status) {
			out = append(out, e.Status)
		}
	}
	return out
}

func checkStore(t *testing.T, e *Engine) {
	t.Helper()
	rep, err := e.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("system check: %v", rep.Problems)
	}
}

func TestPullFromHubWithTokens(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{Auth: true})
	h.AddUser(t, "alice", "secret")
	img := h.PushRandom(t, "alice/app:v1", 3, 50000)
	h.PushRandom(t, "alice/private:v1", 1, 1000)
	h.SetRepo(t, "alice/private", hubtest.Repo{Private: hubtest.Ptr(true)})
	e := openEngine(t)

	var rec recorder
	res, err := e.Pull(ctx, h.Host+"/alice/app:v1", PullOptions{Progress: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != img.Config.Digest || res.Digest != img.Digest || !res.Updated {
		t.Fatalf("pull result %+v, want image %s manifest %s", res, img.Config.Digest, img.Digest)
	}
	for _, l := range img.Layers {
		got := rec.statuses(l.Digest.Encoded()[:12])
		if got[0] != "Pulling fs layer" || !slices.Contains(got, "Downloading") || !slices.Contains(got, "Verifying Checksum") ||
			got[len(got)-1] != "Pull complete" {
			t.Errorf("layer %s statuses %v", l.Digest, got)
		}
	}
	if got := rec.statuses(""); len(got) != 2 || got[0] != "Digest: "+img.Digest.String() || got[1] != "Status: Downloaded newer image for "+h.Host+"/alice/app:v1" {
		t.Errorf("final messages %q", got)
	}
	if got := rec.statuses("v1"); len(got) != 1 || got[0] != "Pulling from alice/app" {
		t.Errorf("header %q", got)
	}
	insp, err := e.InspectImage(ctx, h.Host+"/alice/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if insp.ID != img.Config.Digest.String() || len(insp.RepoDigests) != 1 || insp.RepoDigests[0] != h.Host+"/alice/app@"+img.Digest.String() {
		t.Fatalf("inspect: %s %v", insp.ID, insp.RepoDigests)
	}
	for i, l := range insp.RootFS.Layers {
		if l != img.ConfigContents.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d: %s", i, l)
		}
	}
	// The files are there, unpacked.
	var imgRec store.Image
	e.Store().View(ctx, func(tx *store.Tx) error { imgRec, err = tx.Image(ctx, res.ID); return err })
	if _, err := os.Stat(filepath.Join(e.Store().LayerDir(imgRec.Layers[2].ChainID), "data-2.bin")); err != nil {
		t.Errorf("top layer not unpacked: %v", err)
	}
	checkStore(t, e)

	// Again: up to date, no layer lines.
	var again recorder
	res, err = e.Pull(ctx, h.Host+"/alice/app:v1", PullOptions{Progress: again.add})
	if err != nil || res.Updated {
		t.Fatalf("second pull: %+v %v", res, err)
	}
	for _, ev := range again.evs {
		if ev.ID != "" && ev.ID != "v1" {
			t.Errorf("second pull showed a layer: %+v", ev)
		}
	}
	if got := again.statuses(""); got[len(got)-1] != "Status: Image is up to date for "+h.Host+"/alice/app:v1" {
		t.Errorf("second pull status %q", got)
	}

	// By digest.
	res, err = e.Pull(ctx, h.Host+"/alice/app@"+img.Digest.String(), PullOptions{})
	if err != nil || res.ID != img.Config.Digest || res.Updated {
		t.Fatalf("pull by digest: %+v %v", res, err)
	}

	// Private: refused anonymously, pulled with credentials.
	_, err = e.Pull(ctx, h.Host+"/alice/private:v1", PullOptions{})
	if !errors.Is(err, errdefs.ErrDenied) || !strings.Contains(err.Error(), "pull access denied for "+h.Host+"/alice/private") {
		t.Fatalf("anonymous pull of a private image: %v", err)
	}
	c := client.New(client.Options{Credentials: creds{h.Host: {"alice", "secret"}}})
	if _, err := e.Pull(ctx, h.Host+"/alice/private:v1", PullOptions{Registry: c}); err != nil {
		t.Fatalf("alice pulls her private image: %v", err)
	}
	_, err = e.Pull(ctx, h.Host+"/alice/app:nope", PullOptions{})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.HasPrefix(err.Error(), "manifest for "+h.Host+"/alice/app:nope not found: manifest unknown") {
		t.Fatalf("missing tag: %v", err)
	}
	checkStore(t, e)
}

// pushIndex stores a two-platform index of two images on an open hub.
func pushIndex(t *testing.T, h *hubtest.Hub, repo string) (index digest.Digest, amd, arm seed.Image) {
	t.Helper()
	amd = hubtest.RandomImage(t, 2, 1000)
	arm = hubtest.RandomImage(t, 1, 1000)
	h.PushImage(t, repo+":amd64", amd)
	h.PushImage(t, repo+":arm64", arm)
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: amd.MediaType, Digest: amd.Digest, Size: int64(len(amd.Manifest)), Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{MediaType: arm.MediaType, Digest: arm.Digest, Size: int64(len(arm.Manifest)), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
	}}
	idx.SchemaVersion = 2
	raw, _ := json.Marshal(idx)
	r := client.New(client.Options{}).Repository(h.Host, repo, "pull", "push")
	d, err := r.PutManifest(context.Background(), "multi", ocispec.MediaTypeImageIndex, raw)
	if err != nil {
		t.Fatal(err)
	}
	return d, amd, arm
}

func TestPullPicksPlatform(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{})
	idx, amd, arm := pushIndex(t, h, "bob/multi")
	e := openEngine(t)
	res, err := e.Pull(ctx, h.Host+"/bob/multi:multi", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != idx || res.ID != amd.Config.Digest {
		t.Fatalf("default platform: %+v", res)
	}
	plat := ocispec.Platform{OS: "linux", Architecture: "arm64"}
	res, err = e.Pull(ctx, h.Host+"/bob/multi:multi", PullOptions{Platform: &plat})
	if err != nil || res.ID != arm.Config.Digest {
		t.Fatalf("arm64: %+v %v", res, err)
	}
	// A single-platform image that does not match --platform is refused.
	if _, err := e.Pull(ctx, h.Host+"/bob/multi:amd64", PullOptions{Platform: &plat}); err == nil || !strings.Contains(err.Error(), "does not match the specified platform") {
		t.Fatalf("mismatching single-platform image: %v", err)
	}
	plat = ocispec.Platform{OS: "windows", Architecture: "amd64"}
	if _, err := e.Pull(ctx, h.Host+"/bob/multi:multi", PullOptions{Platform: &plat}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("no such platform: %v", err)
	}
	checkStore(t, e)
}

// TestPullResumesPartialIngest: bytes a killed pull left in the ingest are
// not fetched again.
func TestPullResumesPartialIngest(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{})
	img := h.PushRandom(t, "bob/big:v1", 1, 2<<20)
	var served atomic.Int64
	var ranges []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/"+img.Layers[0].Digest.String()) && r.Method == http.MethodGet {
			mu.Lock()
			ranges = append(ranges, r.Header.Get("Range"))
			mu.Unlock()
			w = &countingWriter{ResponseWriter: w, n: &served}
		}
		h.Hub.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := srv.Listener.Addr().String()
	e := openEngine(t)
	layer := img.Layers[0]
	bw, err := e.Store().NewBlobWriter(ctx, layer.Digest, layer.Size)
	if err != nil {
		t.Fatal(err)
	}
	half := layer.Size / 2
	if _, err := bw.Write(layer.Data[:half]); err != nil {
		t.Fatal(err)
	}
	bw.Close()
	if _, err := e.Pull(ctx, host+"/bob/big:v1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranges) != 1 || ranges[0] != "bytes="+itoa(half)+"-" {
		t.Errorf("blob requests %q, want one from byte %d", ranges, half)
	}
	if n := served.Load(); n != layer.Size-half {
		t.Errorf("served %d bytes of the blob, want %d", n, layer.Size-half)
	}
	checkStore(t, e)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestPullBadLayerIsNotRetried: a blob that matches its digest but is not
// a layer fails at once, naming the layer, and records nothing.
func TestPullBadLayerIsNotRetried(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{})
	r := client.New(client.Options{}).Repository(h.Host, "bob/bad", "pull", "push")
	bad := []byte("this is not a gzip stream, though the manifest says so")
	badDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(bad), Size: int64(len(bad))}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromString("x").String() + `"]}}`)
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{badDesc, bad}, {cfgDesc, cfg}} {
		data := b.data
		if err := r.PushBlob(ctx, b.d, nil, func(int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, nil); err != nil {
			t.Fatal(err)
		}
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: []ocispec.Descriptor{badDesc}}
	m.SchemaVersion = 2
	raw, _ := json.Marshal(m)
	if _, err := r.PutManifest(ctx, "v1", ocispec.MediaTypeImageManifest, raw); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t)
	var rec recorder
	_, err := e.Pull(ctx, h.Host+"/bob/bad:v1", PullOptions{Progress: rec.add})
	if err == nil || errors.Is(err, errdefs.ErrDigestMismatch) || !strings.Contains(err.Error(), badDesc.Digest.String()) {
		t.Fatalf("bad layer: %v", err)
	}
	if slices.ContainsFunc(rec.statuses(image.ShortID(badDesc.Digest)), func(s string) bool { return strings.HasPrefix(s, "Retrying") }) {
		t.Errorf("a bad layer was retried: %v", rec.statuses(image.ShortID(badDesc.Digest)))
	}
	if imgs, _ := e.Images(ctx); len(imgs) != 0 {
		t.Errorf("images after a failed pull: %v", imgs)
	}
	checkStore(t, e)
}

// TestPullSameBlobTwice: an image with one layer blob at two positions.
func TestPullSameBlobTwice(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{})
	l := seed.Layer{Files: []seed.File{{Name: "same", Data: bytes.Repeat([]byte("x"), 100000)}}, CreatedBy: "COPY same /"}
	other := seed.Layer{Files: []seed.File{{Name: "other", Data: []byte("y")}}, CreatedBy: "COPY other /"}
	im, err := seed.Build([]seed.Layer{l, other, l}, seed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if im.Layers[0].Digest != im.Layers[2].Digest {
		t.Fatal("the layers differ")
	}
	h.PushImage(t, "bob/twice:1", im)
	e := openEngine(t)
	res, err := e.Pull(ctx, h.Host+"/bob/twice:1", PullOptions{})
	if err != nil || res.ID != im.Config.Digest {
		t.Fatalf("pull: %+v %v", res, err)
	}
	checkStore(t, e)
}
