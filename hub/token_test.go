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
