package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/internal/hubtest"
)

func getJSON(t *testing.T, url, auth string, v any) int {
	t.Helper()
	r, _ := http.NewRequest("GET", url, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

func TestShortAndLibraryNamesAreOneRepository(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	im := hubtest.RandomImage(t, 1, 100)
	pushImage(t, h.URL, "welcome", "v1", im)
	for _, name := range []string{"welcome", "library/welcome"} {
		code, _ := req(t, "GET", h.URL+"/v2/"+name+"/manifests/v1", "", nil)
		if code != 200 {
			t.Fatalf("GET %s:v1 = %d", name, code)
		}
		var tl struct {
			Name string
			Tags []string
		}
		if getJSON(t, h.URL+"/v2/"+name+"/tags/list", "", &tl) != 200 || tl.Name != name || len(tl.Tags) != 1 {
			t.Fatalf("tags of %s = %+v", name, tl)
		}
	}
	var cat struct{ Repositories []string }
	getJSON(t, h.URL+"/v2/_catalog", "", &cat)
	if len(cat.Repositories) != 1 || cat.Repositories[0] != "library/welcome" {
		t.Fatalf("catalog = %v", cat.Repositories)
	}
}

func TestTagsPagination(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	im := hubtest.RandomImage(t, 1, 10)
	for _, tag := range []string{"c", "a", "b", "d"} {
		h.PushImage(t, "x/app:"+tag, im)
	}
	r, _ := http.Get(h.URL + "/v2/x/app/tags/list?n=2")
	var tl struct{ Tags []string }
	_ = json.NewDecoder(r.Body).Decode(&tl)
	r.Body.Close()
	if strings.Join(tl.Tags, ",") != "a,b" || !strings.Contains(r.Header.Get("Link"), "last=b") {
		t.Fatalf("page 1 = %v, Link %q", tl.Tags, r.Header.Get("Link"))
	}
	getJSON(t, h.URL+"/v2/x/app/tags/list?n=2&last=b", "", &tl)
	if strings.Join(tl.Tags, ",") != "c,d" {
		t.Fatalf("page 2 = %v", tl.Tags)
	}
	if code := getJSON(t, h.URL+"/v2/x/none/tags/list", "", nil); code != 404 {
		t.Fatalf("tags of a missing repository: %d", code)
	}
}

func TestErrorBodies(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	im := hubtest.RandomImage(t, 1, 10)
	// A manifest whose layer was never pushed.
	code, body := req(t, "PUT", h.URL+"/v2/x/app/manifests/v1", im.MediaType, im.Manifest)
	var e struct {
		Errors []struct{ Code, Message string }
	}
	_ = json.Unmarshal(body, &e)
	if code != 400 || len(e.Errors) != 1 || e.Errors[0].Code != "MANIFEST_BLOB_UNKNOWN" {
		t.Fatalf("manifest with missing blobs: %d %s", code, body)
	}
	tests := []struct {
		method, path string
		code         int
		errCode      string
	}{
		{"GET", "/v2/x/app/manifests/nope", 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/x/app/blobs/sha256:" + strings.Repeat("a", 64), 404, "BLOB_UNKNOWN"},
		{"GET", "/v2/x/app/blobs/sha256:abc", 400, "DIGEST_INVALID"},
		{"GET", "/v2/X/app/manifests/v1", 400, "NAME_INVALID"},
		{"PATCH", "/v2/x/app/blobs/uploads/0123456789abcdef0123456789abcdef", 404, "BLOB_UPLOAD_UNKNOWN"},
		{"PUT", "/v2/x/app/manifests/v1", 400, "MANIFEST_INVALID"},
	}
	for _, tt := range tests {
		code, body := req(t, tt.method, h.URL+tt.path, "application/vnd.oci.image.manifest.v1+json", []byte("{not json"))
		_ = json.Unmarshal(body, &e)
		if code != tt.code || len(e.Errors) == 0 || e.Errors[0].Code != tt.errCode {
			t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, code, body, tt.code, tt.errCode)
		}
	}
}

func TestBlobRange(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	for _, size := range []int{1000, 1 << 20} { // cached small blob, and a file served with sendfile
		im := hubtest.RandomImage(t, 1, size)
		h.PushImage(t, "x/app:v1", im)
		l := im.Layers[0]
		r, _ := http.NewRequest("GET", h.URL+"/v2/x/app/blobs/"+l.Digest.String(), nil)
		r.Header.Set("Range", "bytes=10-19")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if resp.StatusCode != 206 || string(buf[:n]) != string(l.Data[10:20]) || resp.Header.Get("Docker-Content-Digest") != l.Digest.String() {
			t.Fatalf("size %d: range GET = %d %q", size, resp.StatusCode, buf[:n])
		}
	}
}

func TestSearchAndAPI(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true})
	h.AddUser(t, "alice", "pw")
	h.SetRepo(t, "alice/welcome-kit", hubtest.Repo{Description: hubtest.Ptr("A kit"), Badge: hubtest.Ptr("open_source")})
	h.PushRandom(t, "alice/welcome-kit:1", 1, 10)

	var v1 struct {
		Query      string `json:"query"`
		NumResults int    `json:"num_results"`
		Page       int    `json:"page"`
		PageSize   int    `json:"page_size"`
		Results    []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			StarCount   int    `json:"star_count"`
			IsOfficial  bool   `json:"is_official"`
			IsAutomated bool   `json:"is_automated"`
		} `json:"results"`
	}
	if code := getJSON(t, h.URL+"/v1/search?q=welcome&n=25", "", &v1); code != 200 {
		t.Fatalf("v1 search: %d", code)
	}
	if v1.Query != "welcome" || v1.NumResults != 2 || v1.PageSize != 25 || v1.Page != 1 || v1.Results[0].Name != "welcome" || !v1.Results[0].IsOfficial || v1.Results[0].StarCount != 42 || v1.Results[1].Name != "alice/welcome-kit" {
		t.Fatalf("v1 search = %+v", v1)
	}
	var api struct {
		Total   int
		Results []struct {
			Name  string `json:"name"`
			Badge string `json:"badge"`
		}
	}
	getJSON(t, h.URL+"/api/v1/search?q=welcome&badge=open_source", "", &api)
	if api.Total != 1 || api.Results[0].Name != "alice/welcome-kit" || api.Results[0].Badge != "open_source" {
		t.Fatalf("api search by badge = %+v", api)
	}
	if code := getJSON(t, h.URL+"/api/v1/search?sort=bogus", "", nil); code != 400 {
		t.Fatalf("bad sort: %d", code)
	}
	var repo struct {
		Name            string `json:"name"`
		FullDescription string `json:"full_description"`
		IsOfficial      bool   `json:"is_official"`
		Stars           int    `json:"star_count"`
		Starred         *bool  `json:"starred"`
	}
	getJSON(t, h.URL+"/api/v1/repositories/welcome", "", &repo)
	if repo.Name != "welcome" || !repo.IsOfficial || !strings.Contains(repo.FullDescription, "# welcome") {
		t.Fatalf("repository = %+v", repo)
	}
	var tags struct {
		Tags []struct {
			Name   string `json:"name"`
			Digest string `json:"digest"`
			Images []struct {
				OS, Architecture string
				Layers           []struct {
					CreatedBy string `json:"created_by"`
					Size      int64  `json:"size"`
					Empty     bool   `json:"empty_layer"`
				} `json:"layers"`
			} `json:"images"`
		} `json:"tags"`
	}
	getJSON(t, h.URL+"/api/v1/repositories/library/welcome/tags", "", &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Name != "latest" || len(tags.Tags[0].Images) != 1 || tags.Tags[0].Images[0].OS != "linux" {
		t.Fatalf("tags = %+v", tags)
	}
	steps := tags.Tags[0].Images[0].Layers
	if len(steps) < 4 || !strings.Contains(steps[len(steps)-4].CreatedBy, "COPY") || steps[len(steps)-4].Size == 0 || !steps[len(steps)-1].Empty {
		t.Fatalf("history = %+v", steps)
	}
	// Stars need a login and count once.
	star := func(auth string) int {
		r, _ := http.NewRequest("PUT", h.URL+"/api/v1/repositories/welcome/star", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := star(""); code != 401 {
		t.Fatalf("anonymous star: %d", code)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth("alice", "pw")
	basic := r.Header.Get("Authorization")
	for range 2 {
		if code := star(basic); code != 200 {
			t.Fatalf("star as alice: %d", code)
		}
	}
	getJSON(t, h.URL+"/api/v1/repositories/welcome", basic, &repo)
	if repo.Stars != 43 || repo.Starred == nil || !*repo.Starred {
		t.Fatalf("after starring twice: %+v", repo)
	}
	var ns struct {
		Kind         string
		Repositories []struct{ Name string }
	}
	if getJSON(t, h.URL+"/api/v1/namespaces/alice", "", &ns) != 200 || ns.Kind != "user" || len(ns.Repositories) != 1 {
		t.Fatalf("namespace = %+v", ns)
	}
	var health struct{ Status string }
	if getJSON(t, h.URL+"/healthz", "", &health) != 200 || health.Status != "ok" {
		t.Fatalf("health = %+v", health)
	}
	code, body := metricsOf(h)
	if code != 200 || !strings.Contains(string(body), `berth_hub_requests_total{code="2xx",method="GET",route="v1"}`) || !strings.Contains(string(body), "# TYPE berth_hub_request_duration_seconds histogram") {
		t.Fatalf("metrics = %d\n%s", code, body)
	}
}

// TestChangesFromAnotherProcess: an operator command writes the database
// beside a running hub, which sees it through the change log.
func TestChangesFromAnotherProcess(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	h.PushRandom(t, "x/app:v1", 1, 10)
	m, err := meta.OpenSQLite(context.Background(), filepath.Join(h.Root, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	desc := "changed elsewhere"
	if _, err := m.UpdateRepo(context.Background(), "x/app", meta.RepoUpdate{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var v1 struct {
			Results []struct{ Description string }
		}
		getJSON(t, h.URL+"/v1/search?q=x/app", "", &v1)
		if len(v1.Results) == 1 && v1.Results[0].Description == desc {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub did not see the change: %+v", v1)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
