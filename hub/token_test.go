package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-dev/berth/hub"
	"github.com/berth-dev/berth/internal/hubtest"
)

type tokenBody struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

func getToken(t *testing.T, h *hubtest.Hub, user, pw string, q url.Values) (tokenBody, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.URL+"/token?"+q.Encode(), nil)
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b tokenBody
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return b, resp.StatusCode
}

func postToken(t *testing.T, h *hubtest.Hub, form url.Values) (tokenBody, int) {
	t.Helper()
	resp, err := http.PostForm(h.URL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b tokenBody
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return b, resp.StatusCode
}

func TestTokenEndpoint(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true})
	h.AddUser(t, "alice", "alice-pw")

	t.Run("challenge realm comes from the public URL, not Host", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.URL+"/v2/", nil)
		req.Host = "evil.example:443"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ch := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != 401 || !strings.Contains(ch, `realm="http://`+h.Host+`/token"`) || strings.Contains(ch, "evil") {
			t.Fatalf("challenge = %d %q", resp.StatusCode, ch)
		}
	})

	t.Run("docker login: wrong password is 401, never an anonymous token", func(t *testing.T) {
		q := url.Values{"service": {h.Host}, "offline_token": {"true"}, "client_id": {"docker"}, "account": {"alice"}}
		if b, code := getToken(t, h, "alice", "wrong", q); code != 401 || b.Token != "" {
			t.Fatalf("wrong password: %d %+v", code, b)
		}
		if b, code := getToken(t, h, "nobody", "x", q); code != 401 || b.Token != "" {
			t.Fatalf("unknown user: %d %+v", code, b)
		}
		b, code := getToken(t, h, "alice", "alice-pw", q)
		if code != 200 || b.Token == "" || b.AccessToken != b.Token || b.RefreshToken == "" || b.ExpiresIn <= 0 {
			t.Fatalf("login: %d %+v", code, b)
		}
		// The OAuth2 refresh flow Docker uses afterwards, including the
		// scope `docker search` asks for.
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b.RefreshToken}, "service": {h.Host},
			"client_id": {"docker"}, "scope": {"registry:catalog:search repository:alice/app:pull,push"}}
		rb, code := postToken(t, h, f)
		if code != 200 || rb.AccessToken == "" || !strings.Contains(rb.Scope, "registry:catalog:search") || !strings.Contains(rb.Scope, "repository:alice/app:pull,push") {
			t.Fatalf("refresh: %d %+v", code, rb)
		}
		// The token works on the registry.
		req, _ := http.NewRequest("GET", h.URL+"/v2/", nil)
		req.Header.Set("Authorization", "Bearer "+rb.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/v2/ with a refreshed token: %d", resp.StatusCode)
		}
		// The password grant works, a bad password does not.
		if pb, code := postToken(t, h, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "service": {h.Host}, "client_id": {"x"}, "access_type": {"offline"}}); code != 200 || pb.RefreshToken == "" {
			t.Fatalf("password grant: %d %+v", code, pb)
		}
		if _, code := postToken(t, h, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}, "service": {h.Host}}); code != 401 {
			t.Fatalf("password grant with a bad password: %d", code)
		}
		// Changing the password revokes the refresh token.
		if err := hub.SetUserPassword(context.Background(), h.Hub.Meta(), "alice", "new-pw"); err != nil {
			t.Fatal(err)
		}
		if _, code := postToken(t, h, f); code != 401 {
			t.Fatalf("refresh after a password change: %d", code)
		}
		if _, code := postToken(t, h, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"garbage"}, "service": {h.Host}}); code != 401 {
			t.Fatalf("garbage refresh token: %d", code)
		}
	})

	t.Run("other service refused", func(t *testing.T) {
		if _, code := getToken(t, h, "", "", url.Values{"service": {"other.example"}}); code != 400 {
			t.Fatalf("token for another service: %d", code)
		}
	})

	t.Run("anonymous token has no push", func(t *testing.T) {
		b, code := getToken(t, h, "", "", url.Values{"service": {h.Host}, "scope": {"repository:alice/app:pull,push"}})
		if code != 200 || b.Token == "" {
			t.Fatalf("anonymous token: %d", code)
		}
		req, _ := http.NewRequest("POST", h.URL+"/v2/alice/app/blobs/uploads/", nil)
		req.Header.Set("Authorization", "Bearer "+b.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="repository:alice/app:pull,push"`) {
			t.Fatalf("anonymous push start: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

// TestTokenRevocation is RFC 7009 at /token/revoke: a revoked refresh
// token is refused from then on, others of the same user are not, and
// what cannot be revoked says so.
func TestTokenRevocation(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true})
	h.AddUser(t, "alice", "alice-pw")
	q := url.Values{"service": {h.Host}, "offline_token": {"true"}, "client_id": {"docker"}}
	first, _ := getToken(t, h, "alice", "alice-pw", q)
	second, _ := getToken(t, h, "alice", "alice-pw", q)
	if first.RefreshToken == "" || second.RefreshToken == "" || first.RefreshToken == second.RefreshToken {
		t.Fatalf("refresh tokens %q and %q", first.RefreshToken, second.RefreshToken)
	}
	refresh := func(tok string) int {
		_, code := postToken(t, h, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "service": {h.Host}, "client_id": {"docker"}})
		return code
	}
	revoke := func(form url.Values) (int, string) {
		resp, err := http.PostForm(h.URL+"/token/revoke", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error
	}
	if code := refresh(first.RefreshToken); code != http.StatusOK {
		t.Fatalf("refresh before revoking: %d", code)
	}
	for range 2 {
		if code, e := revoke(url.Values{"token": {first.RefreshToken}, "token_type_hint": {"refresh_token"}}); code != http.StatusOK {
			t.Fatalf("revoke: %d %s", code, e)
		}
	}
	if code := refresh(first.RefreshToken); code != http.StatusUnauthorized {
		t.Errorf("refresh with a revoked token: %d, want 401", code)
	}
	if code := refresh(second.RefreshToken); code != http.StatusOK {
		t.Errorf("refresh with another token of the same user: %d, want 200", code)
	}
	for _, tt := range []struct {
		name       string
		form       url.Values
		code       int
		errorField string
	}{
		{"garbage, which RFC 7009 answers as done", url.Values{"token": {"garbage"}}, http.StatusOK, ""},
		{"an access token", url.Values{"token": {second.AccessToken}}, http.StatusBadRequest, "unsupported_token_type"},
		{"no token", url.Values{}, http.StatusBadRequest, "invalid_request"},
	} {
		if code, e := revoke(tt.form); code != tt.code || e != tt.errorField {
			t.Errorf("revoke %s: %d %q, want %d %q", tt.name, code, e, tt.code, tt.errorField)
		}
	}
	resp, err := http.Get(h.URL + "/token/revoke")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /token/revoke: %d, want 405", resp.StatusCode)
	}
}
