package hub_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/meta"
)

// openUpload is an upload a client had under way when the hub died.
type openUpload struct {
	repo, location string
	data           []byte
}

// TestCrashDuringPushes kills `berth hub serve` with SIGKILL while clients
// push in chunks, restarts it, and checks: every stored blob hashes to its
// name, every manifest and tag points at content that is there, and every
// interrupted upload either resumes to completion or is gone.
func TestCrashDuringPushes(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: builds and kills the berth binary")
	}
	root := t.TempDir()
	for round := range 3 {
		p := startHub(t, root, "--open", "--no-seed")
		base := "http://" + p.Addr
		var mu sync.Mutex
		open := map[string]*openUpload{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var pushed atomic.Int64
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					if chunkedPush(ctx, base, fmt.Sprintf("crash/r%d-w%d", round, w), i, &mu, open) {
						pushed.Add(1)
					}
				}
			}()
		}
		// Kill once some manifests are in and more pushes are in flight,
		// however slow the machine is.
		for deadline := time.Now().Add(time.Minute); pushed.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(100+150*round) * time.Millisecond)
		p.Kill()
		cancel()
		wg.Wait()

		p = startHub(t, root, "--open", "--no-seed")
		base = "http://" + p.Addr
		checkStore(t, root)
		resumed, gone := 0, 0
		for _, u := range open {
			switch resumeUpload(t, base, u) {
			case true:
				resumed++
			default:
				gone++
			}
		}
		t.Logf("round %d: %d interrupted uploads resumed, %d gone", round, resumed, gone)
		p.Stop(t)
	}
}

// chunkedPush pushes one image: two blobs in 64 KiB PATCH chunks, then the
// manifest; it records uploads in flight.
func chunkedPush(ctx context.Context, base, repo string, n int, mu *sync.Mutex, open map[string]*openUpload) bool {
	var descs []string
	for range 2 {
		data := make([]byte, 300<<10)
		_, _ = rand.Read(data)
		d := digest.FromBytes(data)
		resp, err := doReq(ctx, "POST", base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
		if err != nil || resp.StatusCode != 202 {
			return false
		}
		loc := resp.Header.Get("Location")
		u := &openUpload{repo: repo, location: loc, data: data}
		mu.Lock()
		open[loc] = u
		mu.Unlock()
		for off := 0; off < len(data); off += 64 << 10 {
			end := min(off+64<<10, len(data))
			h := http.Header{"Content-Range": {fmt.Sprintf("%d-%d", off, end-1)}, "Content-Type": {"application/octet-stream"}}
			resp, err := doReq(ctx, "PATCH", base+loc, h, data[off:end])
			if err != nil || resp.StatusCode != 202 {
				return false
			}
			loc = resp.Header.Get("Location")
		}
		resp, err = doReq(ctx, "PUT", base+loc+"?digest="+d.String(), nil, nil)
		if err != nil || resp.StatusCode != 201 {
			return false
		}
		mu.Lock()
		delete(open, u.location)
		mu.Unlock()
		descs = append(descs, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, d, len(data)))
	}
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","n":%d}`, n))
	cd := digest.FromBytes(cfg)
	if resp, err := doReq(ctx, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+cd.String(), nil, cfg); err != nil || resp.StatusCode != 201 {
		return false
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}`,
		cd, len(cfg), strings.Join(descs, ","))
	resp, err := doReq(ctx, "PUT", base+"/v2/"+repo+"/manifests/v"+strconv.Itoa(n), http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}, []byte(m))
	return err == nil && resp.StatusCode == 201
}

func doReq(ctx context.Context, method, url string, h http.Header, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// checkStore opens the hub's stores beside the running hub and checks them.
func checkStore(t *testing.T, root string) {
	t.Helper()
	ctx := context.Background()
	bs, err := blobs.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = bs.Walk(ctx, func(i blobs.Info) error {
		n++
		r, err := bs.Open(ctx, i.Digest)
		if err != nil {
			return err
		}
		defer r.Close()
		got, err := i.Digest.Algorithm().FromReader(r)
		if err != nil {
			return err
		}
		if got != i.Digest {
			t.Errorf("corrupt blob: %s hashes to %s", i.Digest, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := meta.OpenSQLite(ctx, filepath.Join(root, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	manifests := 0
	err = m.WalkManifests(ctx, func(man meta.Manifest) error {
		manifests++
		if _, err := bs.Stat(ctx, man.Digest); err != nil {
			t.Errorf("manifest %s in %s has no stored bytes: %v", man.Digest, man.Repo, err)
		}
		for _, c := range man.Children {
			if _, err := bs.Stat(ctx, c); err != nil {
				t.Errorf("manifest %s in %s points at missing blob %s", man.Digest, man.Repo, c)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = m.WalkTags(ctx, func(tag meta.Tag) error {
		if _, err := m.Manifest(ctx, tag.Repo, tag.Digest); err != nil {
			t.Errorf("tag %s:%s points at a missing manifest", tag.Repo, tag.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the crash: %d blobs, %d manifests, all consistent", n, manifests)
	if manifests == 0 {
		t.Error("no manifest was pushed before the kill: the test checked nothing")
	}
}

// resumeUpload continues an interrupted upload from where the hub says it
// stands. It reports true if the upload completed, false if the hub no
// longer knows it (404); anything else fails the test.
func resumeUpload(t *testing.T, base string, u *openUpload) bool {
	t.Helper()
	resp, err := http.Get(base + u.location)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 404 {
		return false
	}
	if resp.StatusCode != 204 {
		t.Fatalf("upload status after restart: %d", resp.StatusCode)
	}
	end, err := strconv.Atoi(strings.TrimPrefix(resp.Header.Get("Range"), "0-"))
	if err != nil {
		t.Fatalf("upload Range %q", resp.Header.Get("Range"))
	}
	off := end + 1
	if end == 0 {
		off = 0 // "0-0" for an empty upload; these clients never send one byte
	}
	loc := resp.Header.Get("Location")
	if off < len(u.data) {
		h := http.Header{"Content-Range": {fmt.Sprintf("%d-%d", off, len(u.data)-1)}}
		r2, err := doReq(context.Background(), "PATCH", base+loc, h, u.data[off:])
		if err != nil {
			t.Fatal(err)
		}
		if r2.StatusCode != 202 {
			t.Fatalf("resuming upload at %d: %d", off, r2.StatusCode)
		}
		loc = r2.Header.Get("Location")
	}
	d := digest.FromBytes(u.data)
	r3, err := doReq(context.Background(), "PUT", base+loc+"?digest="+d.String(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r3.StatusCode != 201 {
		t.Fatalf("completing a resumed upload: %d", r3.StatusCode)
	}
	if code, _ := req(t, "GET", base+"/v2/"+u.repo+"/blobs/"+d.String(), "", nil); code != 200 {
		t.Fatalf("resumed blob not readable: %d", code)
	}
	return true
}
