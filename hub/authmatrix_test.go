package hub_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/token"
	"github.com/berth-dev/berth/internal/hubtest"
)

// TestAuthMatrix tries every operation as every kind of caller on public
// and private repositories of a user and of an organisation, and requires
// zero unauthorized successes and zero wrongful refusals.
func TestAuthMatrix(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true})
	for _, u := range []string{"alice", "carol", "dave"} {
		h.AddUser(t, u, u+"-pw")
	}
	h.AddOrg(t, "team", "carol")
	repos := map[string]bool{"alice/pub": true, "alice/priv": false, "team/pub": true, "team/priv": false}
	base := hubtest.RandomImage(t, 1, 64)
	for r, public := range repos {
		h.PushImage(t, r+":latest", base)
		h.SetRepo(t, r, hubtest.Repo{Private: hubtest.Ptr(!public), Description: hubtest.Ptr("matrix " + r)})
	}
	h.PushImage(t, "alice/other:latest", base)
	blob := base.Layers[0].Digest

	key, err := token.LoadOrCreateKey(filepath.Join(h.Root, "keys", "token.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var all []token.Access
	for r := range repos {
		all = append(all, token.Access{Type: "repository", Name: r, Actions: []string{"pull", "push", "delete"}})
	}
	all = append(all, token.Access{Type: "registry", Name: "catalog", Actions: []string{"search", "*"}})
	expired, _, err := token.NewIssuer(key, "berth-hub", h.Host, -time.Hour).Issue("alice", all)
	if err != nil {
		t.Fatal(err)
	}

	type subject struct {
		name   string
		user   string // whose rights a valid credential carries
		target string // a repository the caller may push to, for mounts
		// auth returns the Authorization header for the scopes.
		auth func(scopes ...string) string
	}
	tokenFor := func(user string) func(...string) string {
		return func(scopes ...string) string {
			tok := h.Token(t, user, user+"-pw", scopes...)
			return "Bearer " + tok
		}
	}
	subjects := []subject{
		{"tokenless", "", "alice/target", func(...string) string { return "" }},
		{"anonymous token", "", "alice/target", func(scopes ...string) string { return "Bearer " + h.Token(t, "", "", scopes...) }},
		{"owner", "alice", "alice/target", tokenFor("alice")},
		{"org member", "carol", "team/target", tokenFor("carol")},
		{"other user", "dave", "dave/target", tokenFor("dave")},
		{"bad token", "", "alice/target", func(...string) string { return "Bearer not.a.token" }},
		{"expired token", "", "alice/target", func(...string) string { return "Bearer " + expired }},
		{"token for another repository", "", "alice/other", func(...string) string {
			return "Bearer " + h.Token(t, "alice", "alice-pw", "repository:alice/other:pull,push,delete")
		}},
	}
	canWrite := func(user, repo string) bool {
		ns := strings.SplitN(repo, "/", 2)[0]
		return user != "" && (ns == user || ns == "team" && user == "carol")
	}
	do := func(method, path, auth, ctype string, body []byte) int {
		req, _ := http.NewRequest(method, h.URL+path, bytes.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	n := 0
	var unauthorized, wrongful []string
	for _, s := range subjects {
		for repo, public := range repos {
			pull := public || canWrite(s.user, repo)
			write := canWrite(s.user, repo)
			valid := s.user != ""
			if s.name == "anonymous token" || s.name == "tokenless" {
				valid, pull = true, public
			}
			scope := "repository:" + repo + ":pull,push,delete"
			ops := []struct {
				op     string
				expect bool
				try    func() bool
			}{
				{"pull", valid && pull, func() bool {
					a := s.auth(scope)
					m := do("GET", "/v2/"+repo+"/manifests/latest", a, "", nil)
					b := do("GET", "/v2/"+repo+"/blobs/"+blob.String(), a, "", nil)
					return m == 200 || b == 200
				}},
				{"push", valid && write, func() bool {
					n++
					cfg := []byte(fmt.Sprintf(`{"n":%d}`, n))
					d := digest.FromBytes(cfg)
					a := s.auth(scope)
					if do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), a, "application/octet-stream", cfg) != 201 {
						return false
					}
					m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}`, d, len(cfg))
					return do("PUT", "/v2/"+repo+"/manifests/pushed", a, "application/vnd.oci.image.manifest.v1+json", []byte(m)) == 201
				}},
				{"delete", valid && write, func() bool {
					h.PushImage(t, repo+":del", base)
					return do("DELETE", "/v2/"+repo+"/manifests/del", s.auth(scope), "", nil) == 202
				}},
				{"star", s.user != "" && pull, func() bool {
					return do("PUT", "/api/v1/repositories/"+repo+"/star", s.auth(scope), "", nil) == 200
				}},
				{"mount", valid && pull && canWrite(s.user, s.target), func() bool {
					a := s.auth("repository:"+s.target+":pull,push", "repository:"+repo+":pull")
					q := url.Values{"mount": {blob.String()}, "from": {repo}}
					return do("POST", "/v2/"+s.target+"/blobs/uploads/?"+q.Encode(), a, "", nil) == 201
				}},
				{"search", s.name != "bad token" && s.name != "expired token" && (public || write), func() bool {
					req, _ := http.NewRequest("GET", h.URL+"/v1/search?q="+url.QueryEscape(repo), nil)
					if a := s.auth("registry:catalog:search"); a != "" {
						req.Header.Set("Authorization", a)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					var out struct {
						Results []struct{ Name string } `json:"results"`
					}
					_ = json.NewDecoder(resp.Body).Decode(&out)
					for _, r := range out.Results {
						if r.Name == repo {
							return true
						}
					}
					return false
				}},
			}
			for _, op := range ops {
				got := op.try()
				cell := fmt.Sprintf("%s %s %s", s.name, op.op, repo)
				switch {
				case got && !op.expect:
					unauthorized = append(unauthorized, cell)
				case !got && op.expect:
					wrongful = append(wrongful, cell)
				}
			}
		}
	}
	cells := len(subjects) * len(repos) * 6
	t.Logf("auth matrix: %d cells, %d unauthorized successes, %d wrongful refusals", cells, len(unauthorized), len(wrongful))
	if len(unauthorized) > 0 {
		t.Errorf("unauthorized successes:\n  %s", strings.Join(unauthorized, "\n  "))
	}
	if len(wrongful) > 0 {
		t.Errorf("wrongful refusals:\n  %s", strings.Join(wrongful, "\n  "))
	}
}
