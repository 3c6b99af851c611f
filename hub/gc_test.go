package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub"
	"github.com/berth-dev/berth/hub/seed"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/hubtest"
)

const grace = 300 * time.Millisecond

// gcHub is an open hub with a short grace period and no background
// collector: tests run the collector when they choose.
func gcHub(t *testing.T) (*hub.Hub, *httptest.Server) {
	t.Helper()
	return gcHubGrace(t, grace)
}

func gcHubGrace(t *testing.T, grace time.Duration) (*hub.Hub, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	h, err := hub.New(context.Background(), hub.Config{
		Root: t.TempDir(), PublicURL: "http://" + srv.Listener.Addr().String(), Open: true,
		GCInterval: -1, GCGrace: grace, UploadMaxAge: grace,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(func() { srv.Close(); h.Close() })
	return h, srv
}

func req(t testing.TB, method, url, ctype string, body []byte) (int, []byte) {
	t.Helper()
	r, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func pushBlob(t testing.TB, base, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	if code, body := req(t, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), "application/octet-stream", data); code != 201 {
		t.Fatalf("blob push: %d %s", code, body)
	}
	return d
}

func pushManifest(t testing.TB, base, repo, ref string, body []byte, mt string) int {
	t.Helper()
	code, _ := req(t, "PUT", base+"/v2/"+repo+"/manifests/"+ref, mt, body)
	return code
}

// pushImage uploads an image's blobs and manifest over HTTP.
func pushImage(t testing.TB, base, repo, ref string, im seed.Image) {
	t.Helper()
	for _, b := range im.Blobs() {
		pushBlob(t, base, repo, b.Data)
	}
	if code := pushManifest(t, base, repo, ref, im.Manifest, im.MediaType); code != 201 {
		t.Fatalf("manifest push %s:%s: %d", repo, ref, code)
	}
}

func blobStatus(t testing.TB, base, repo string, d digest.Digest) int {
	code, _ := req(t, "GET", base+"/v2/"+repo+"/blobs/"+d.String(), "", nil)
	return code
}

func collect(t *testing.T, h *hub.Hub) hub.GCStats {
	t.Helper()
	st, err := h.CollectGarbage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestGCReachability(t *testing.T) {
	h, srv := gcHub(t)
	base := srv.URL
	kept := hubtest.RandomImage(t, 2, 100)
	pushImage(t, base, "a/app", "v1", kept)
	gone := hubtest.RandomImage(t, 1, 100)
	pushImage(t, base, "a/app", gone.Digest.String(), gone) // pushed by digest, never tagged

	// A referrer of the kept image, and one of the untagged image.
	ref := func(subject seed.Image, note string) (digest.Digest, []byte) {
		cfg := pushBlob(t, base, "a/app", []byte(`{"note":"`+note+`"}`))
		body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":%d},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}}`,
			cfg, len(`{"note":"`+note+`"}`), subject.Digest, len(subject.Manifest))
		d := digest.FromString(body)
		if code := pushManifest(t, base, "a/app", d.String(), []byte(body), "application/vnd.oci.image.manifest.v1+json"); code != 201 {
			t.Fatalf("referrer push: %d", code)
		}
		return d, []byte(body)
	}
	keptRef, _ := ref(kept, "kept")
	goneRef, _ := ref(gone, "gone")
	// An index of the kept image, tagged: its child must stay even if the
	// child's own tag goes.
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"amd64"}}]}`, kept.Digest, len(kept.Manifest))
	if code := pushManifest(t, base, "a/app", "multi", []byte(idx), "application/vnd.oci.image.index.v1+json"); code != 201 {
		t.Fatalf("index push: %d", code)
	}
	if code, _ := req(t, "DELETE", base+"/v2/a/app/manifests/v1", "", nil); code != 202 {
		t.Fatalf("tag delete: %d", code)
	}

	// Within the grace period nothing goes.
	if st := collect(t, h); st != (hub.GCStats{}) {
		t.Fatalf("collected within the grace period: %+v", st)
	}
	time.Sleep(grace + 50*time.Millisecond)
	st := collect(t, h)
	if st.Manifests != 2 || st.Blobs < 3 {
		t.Fatalf("collected %+v, want the untagged image, its referrer and their blobs", st)
	}
	for _, d := range []digest.Digest{kept.Digest, keptRef} {
		if code, _ := req(t, "GET", base+"/v2/a/app/manifests/"+d.String(), "", nil); code != 200 {
			t.Errorf("kept manifest %s: %d", d, code)
		}
	}
	for _, b := range kept.Blobs() {
		if code := blobStatus(t, base, "a/app", b.Digest); code != 200 {
			t.Errorf("kept blob %s: %d", b.Digest, code)
		}
	}
	for _, d := range []digest.Digest{gone.Digest, goneRef} {
		if code, _ := req(t, "GET", base+"/v2/a/app/manifests/"+d.String(), "", nil); code != 404 {
			t.Errorf("collected manifest %s: %d", d, code)
		}
	}
	for _, b := range gone.Layers {
		if _, err := h.Blobs().Stat(context.Background(), b.Digest); err == nil {
			t.Errorf("blob %s of the collected image is still stored", b.Digest)
		}
	}
}

// TestGCHeadThenSkip is the race that matters: a pusher HEAD-checks a blob
// the hub holds but nothing refers to, skips uploading it, and pushes its
// manifest later; a collection in between must not take the blob.
func TestGCHeadThenSkip(t *testing.T) {
	for _, head := range []bool{true, false} {
		t.Run(fmt.Sprintf("head=%v", head), func(t *testing.T) {
			h, srv := gcHub(t)
			base := srv.URL
			im := hubtest.RandomImage(t, 1, 1000)
			for _, b := range im.Blobs() {
				pushBlob(t, base, "a/app", b.Data)
			}
			time.Sleep(grace + 50*time.Millisecond) // the blobs are old and unreferenced now
			if head {
				for _, b := range im.Blobs() {
					if code, _ := req(t, "HEAD", base+"/v2/a/app/blobs/"+b.Digest.String(), "", nil); code != 200 {
						t.Fatalf("HEAD: %d", code)
					}
				}
			}
			collect(t, h)
			code := pushManifest(t, base, "a/app", "v1", im.Manifest, im.MediaType)
			if head && code != 201 {
				t.Fatalf("manifest after HEAD-then-skip: %d (the collector took a checked blob)", code)
			}
			if !head && code != 400 {
				// Control: without the HEAD the blobs are garbage, and the
				// push must be told they are unknown, not accepted dangling.
				t.Fatalf("manifest naming collected blobs: %d, want 400 MANIFEST_BLOB_UNKNOWN", code)
			}
		})
	}
}

// TestGCDuringPushAndPull runs the collector in a loop while clients push
// and pull: every push succeeds and every tagged image stays whole.
func TestGCDuringPushAndPull(t *testing.T) {
	// A grace period longer than any one push here, even under -race; a
	// push slower than the grace period is rightly told its blobs are gone.
	const grace = 2 * time.Second
	h, srv := gcHubGrace(t, grace)
	base := srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	go func() {
		defer gcWG.Done()
		for ctx.Err() == nil {
			if _, err := h.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	shared := hubtest.RandomImage(t, 1, 500).Layers[0]
	var wg sync.WaitGroup
	images := make([]seed.Image, 12)
	garbage := make([]seed.Image, len(images))
	for i := range images {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the pushes so that early garbage is collected while
			// later images are pushed.
			time.Sleep(time.Duration(i) * 250 * time.Millisecond)
			g := hubtest.RandomImage(t, 1, 300)
			pushImage(t, base, fmt.Sprintf("team/app%d", i%3), g.Digest.String(), g)
			garbage[i] = g
			im := hubtest.RandomImage(t, 2, 2000)
			// Every image also carries a layer all of them share.
			cfg := im.ConfigContents
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromString("shared"))
			im.Layers = append(im.Layers, shared)
			b, _ := seedManifest(im)
			im.Manifest, im.Digest = b, digest.FromBytes(b)
			repo := fmt.Sprintf("team/app%d", i%3)
			pushImage(t, base, repo, fmt.Sprintf("v%d", i), im)
			time.Sleep(grace / 4)
			if code, _ := req(t, "GET", base+"/v2/"+repo+"/manifests/"+fmt.Sprintf("v%d", i), "", nil); code != 200 {
				t.Errorf("pull right after push: %d", code)
			}
			images[i] = im
		}()
	}
	wg.Wait()
	time.Sleep(2 * grace)
	cancel()
	gcWG.Wait()
	collect(t, h)
	for i, g := range garbage {
		if code, _ := req(t, "GET", base+"/v2/"+fmt.Sprintf("team/app%d", i%3)+"/manifests/"+g.Digest.String(), "", nil); code != 404 {
			t.Errorf("untagged image %d survived collection: %d", i, code)
		}
	}
	for i, im := range images {
		repo := fmt.Sprintf("team/app%d", i%3)
		if code, _ := req(t, "GET", base+"/v2/"+repo+"/manifests/"+fmt.Sprintf("v%d", i), "", nil); code != 200 {
			t.Errorf("%s:v%d gone after collection: %d", repo, i, code)
		}
		for _, b := range im.Blobs() {
			if code := blobStatus(t, base, repo, b.Digest); code != 200 {
				t.Errorf("%s:v%d blob %s: %d", repo, i, b.Digest, code)
			}
		}
	}
}

func seedManifest(im seed.Image) ([]byte, error) {
	p, err := image.ParseManifest(im.MediaType, im.Manifest)
	if err != nil {
		return nil, err
	}
	m := *p.Manifest
	m.Layers = nil
	for _, l := range im.Layers {
		m.Layers = append(m.Layers, l.Descriptor)
	}
	return jsonMarshal(m)
}

func TestGCStaleUploads(t *testing.T) {
	h, srv := gcHub(t)
	code, _ := req(t, "POST", srv.URL+"/v2/a/app/blobs/uploads/", "", nil)
	if code != 202 {
		t.Fatalf("upload start: %d", code)
	}
	time.Sleep(grace + 50*time.Millisecond)
	if st := collect(t, h); st.Uploads != 1 {
		t.Fatalf("stale uploads collected: %+v", st)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
