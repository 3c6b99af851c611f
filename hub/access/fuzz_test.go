package access

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/token"
)

// noAccounts is a store without users or repositories.
type noAccounts struct{}

func (noAccounts) User(context.Context, string) (meta.User, error) {
	return meta.User{}, errdefs.ErrNotFound
}
func (noAccounts) UserOrgs(context.Context, string) ([]string, error)   { return nil, nil }
func (noAccounts) RevokeToken(context.Context, string, time.Time) error { return nil }
func (noAccounts) SignOut(context.Context, string) error                { return errdefs.ErrNotFound }
func (noAccounts) TokenRevoked(context.Context, string) (bool, error)   { return false, nil }
func (noAccounts) Lookup(string) (meta.Repo, bool)                      { return meta.Repo{}, false }

func fuzzController(f *testing.F) *Controller {
	key, err := token.LoadOrCreateKey(filepath.Join(f.TempDir(), "token.pem"))
	if err != nil {
		f.Fatal(err)
	}
	cfg := Config{Realm: "http://hub.test/token", Service: "hub.test", TokenTTL: time.Minute, RefreshTTL: time.Hour,
		SignInFailures: -1, SignInFailuresPerIP: -1, Logger: quietLog()}
	return New(cfg, noAccounts{}, token.NewIssuer(key, "berth-hub", "hub.test", time.Minute))
}

// FuzzTokenRequest sends the token endpoint any query and form: it never
// fails on its own (5xx), and what it issues is within the bounds.
func FuzzTokenRequest(f *testing.F) {
	ctl := fuzzController(f)
	f.Add("GET", "service=hub.test&scope=repository:a/b:pull", "")
	f.Add("GET", "scope=repository:a/b:pull+repository:c:push,pull&scope=registry:catalog:*", "")
	f.Add("POST", "", "grant_type=password&username=a&password=b&scope=repository:a:pull")
	f.Add("POST", "", "grant_type=refresh_token&refresh_token=x.y.z")
	f.Add("GET", "scope=repository(plugin):a:pull&offline_token=true", "")
	f.Fuzz(func(t *testing.T, method, query, form string) {
		if method != "POST" {
			method = "GET"
		}
		r := httptest.NewRequest(method, "/token", strings.NewReader(form))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		ctl.ServeToken(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s ?%s %q: %d %s", method, query, form, w.Code, w.Body)
		}
		if w.Code != http.StatusOK {
			return
		}
		var resp tokenResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.AccessToken) > token.MaxTokenBytes {
			t.Fatalf("issued %d bytes: %v", len(resp.AccessToken), err)
		}
		c, err := ctl.tokens.Verify(resp.AccessToken)
		if err != nil || c.Subject != "" || len(c.Access) > MaxScopes {
			t.Fatalf("issued an anonymous token that verifies as %+v, %v", c, err)
		}
	})
}

// FuzzAuthorization: whatever the Authorization header says, a hub with
// no accounts finds no one: a header is an error, never anonymous, and
// never a user.
func FuzzAuthorization(f *testing.F) {
	ctl := fuzzController(f)
	for _, s := range []string{"Basic YTpi", "Bearer x.y.z", "Bearer ", "basic", "Digest a=b", "Basic ====", "Bearer " + strings.Repeat("a", 70000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		r := httptest.NewRequest("GET", "/v2/", nil)
		r.Header.Set("Authorization", auth)
		id, err := ctl.Identify(r)
		if r.Header.Get("Authorization") != "" && err == nil {
			t.Fatalf("Authorization %q identified as %+v", auth, id)
		}
		if id.User != "" {
			t.Fatalf("Authorization %q is user %q", auth, id.User)
		}
	})
}
