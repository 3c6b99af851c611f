package hubtest

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestHubtest(t *testing.T) {
	h := New(t, Options{Auth: true, Seed: true})
	h.AddUser(t, "alice", "pw")
	h.AddAdmin(t, "root", "pw")
	h.AddOrg(t, "team", "alice")
	im := h.PushRandom(t, "team/app:v1", 2, 100)
	h.SetRepo(t, "team/app", Repo{Private: Ptr(true), Badge: Ptr("verified_publisher")})

	get := func(path, auth string) int {
		req, _ := http.NewRequest("GET", h.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/v2/team/app/manifests/v1", ""); code != 401 {
		t.Fatalf("anonymous pull of a private repository: %d", code)
	}
	tok := h.Token(t, "alice", "pw", "repository:team/app:pull")
	if code := get("/v2/team/app/manifests/"+im.Digest.String(), tok); code != 200 {
		t.Fatalf("member pull: %d", code)
	}
	if _, code := h.TryToken("alice", "wrong"); code != 401 {
		t.Fatalf("wrong password token: %d", code)
	}
	if code := get("/v2/welcome/manifests/latest", ""); code != 200 {
		t.Fatalf("seeded welcome: %d", code)
	}
	var v1 struct{ Results []struct{ Name string } }
	resp, err := http.Get(h.URL + "/v1/search?q=welcome")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&v1)
	resp.Body.Close()
	if len(v1.Results) != 1 || v1.Results[0].Name != "welcome" {
		t.Fatalf("search = %+v", v1)
	}
	if r, tag := splitRef("a/b"); r != "a/b" || tag != "latest" {
		t.Fatalf("splitRef(a/b) = %s %s", r, tag)
	}
	if r, tag := splitRef("a/b:v2"); r != "a/b" || tag != "v2" {
		t.Fatalf("splitRef(a/b:v2) = %s %s", r, tag)
	}
}
