package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/retry"
)

// failBlob fails every GET of one blob as fail says, passes every other
// request to next, and counts the GETs of the blob.
func failBlob(next http.Handler, blob string, n *atomic.Int32, fail func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+blob) {
			n.Add(1)
			fail(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestPullLayerRetriesOnce: the retries of a layer download do not
// multiply. Behind a proxy that fails every GET of the layer's blob, one
// layer download makes exactly the policy's attempts, whether the
// failure is one the transfer retries (a 503, a reset connection) or one
// the layer job retries (damaged bytes); every other request goes
// through untouched and is not counted. Each retry says so on the
// layer's line, as Docker does.
func TestPullLayerRetriesOnce(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	im := h.PushRandom(t, "test/retry:1", 1, 100000)
	layer := im.Layers[0]
	policy := retry.Policy{Attempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond, Jitter: 0.5}
	cases := []struct {
		name string
		fail func(w http.ResponseWriter, r *http.Request)
		want func(error) bool
	}{
		{"503", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`, http.StatusServiceUnavailable)
		}, client.IsTransient},
		{"reset", func(w http.ResponseWriter, r *http.Request) {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		}, client.IsNetwork},
		{"damaged", func(w http.ResponseWriter, r *http.Request) {
			data := append([]byte(nil), layer.Data...)
			data[len(data)/2] ^= 1
			w.Write(data)
		}, func(err error) bool { return errors.Is(err, errdefs.ErrDigestMismatch) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gets atomic.Int32
			srv := httptest.NewServer(failBlob(h.Hub, layer.Digest.String(), &gets, tc.fail))
			defer srv.Close()
			e := openEngine(t)
			var rec recorder
			// Without keep-alives: net/http replays a GET once by itself when
			// a pooled connection turns out closed, below any policy, and
			// the count here is the policy's alone.
			c := client.New(client.Options{Retry: policy, Transport: &http.Transport{DisableKeepAlives: true}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := e.Pull(ctx, srv.Listener.Addr().String()+"/test/retry:1", PullOptions{Registry: c, Progress: rec.add})
			if err == nil || !tc.want(err) {
				t.Fatalf("the pull: %v", err)
			}
			if n := gets.Load(); n != int32(policy.Attempts) {
				t.Errorf("one layer download made %d requests, want the policy's %d attempts", n, policy.Attempts)
			}
			retries := 0
			for _, ev := range rec.evs {
				if ev.ID == image.ShortID(layer.Digest) && strings.HasPrefix(ev.Status, "Retrying in ") {
					retries++
				}
			}
			if retries != policy.Attempts-1 {
				t.Errorf("%d retries shown, want %d: %v", retries, policy.Attempts-1, rec.statuses(image.ShortID(layer.Digest)))
			}
			checkStore(t, e)
		})
	}
}

// TestPushLayerRetriesOnce: behind a registry refusing every request that
// sends a layer's bytes (PATCH, PUT) with a 503, one layer upload sends
// them exactly the policy's attempts: the layer job does not start the
// upload over on top of the client's retries.
func TestPushLayerRetriesOnce(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{})
	im := h.PushRandom(t, "test/one:1", 1, 300000)
	e := openEngine(t)
	if _, err := e.Pull(ctx, h.Host+"/test/one:1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	var sends atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			sends.Add(1)
			http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`, http.StatusServiceUnavailable)
			return
		}
		h.Hub.ServeHTTP(w, r)
	}))
	defer srv.Close()
	name := srv.Listener.Addr().String() + "/test/copy:1"
	if err := e.Tag(ctx, h.Host+"/test/one:1", name); err != nil {
		t.Fatal(err)
	}
	policy := retry.Policy{Attempts: 3, Base: time.Millisecond}
	c := client.New(client.Options{Retry: policy, Transport: &http.Transport{DisableKeepAlives: true}})
	var rec recorder
	_, err := e.Push(ctx, name, PushOptions{Registry: c, Progress: rec.add})
	if !client.IsTransient(err) {
		t.Fatalf("want the 503 after the attempts: %v", err)
	}
	if n := sends.Load(); n != int32(policy.Attempts) {
		t.Errorf("the layer's bytes were sent %d times, want the policy's %d attempts", n, policy.Attempts)
	}
	id := image.ShortID(im.ConfigContents.RootFS.DiffIDs[0])
	retries := 0
	for _, ev := range rec.evs {
		if ev.ID == id && strings.HasPrefix(ev.Status, "Retrying in ") {
			retries++
		}
	}
	if retries != policy.Attempts-1 {
		t.Errorf("%d retries shown, want %d: %v", retries, policy.Attempts-1, rec.statuses(id))
	}
}
