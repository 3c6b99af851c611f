package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/internal/hubtest"
)

// TestAccessTokensEndWithTheAccount: an access token issued before its
// user signed out, changed password or was deleted is refused within a
// second, on /v2/ and the JSON API alike; a token issued after works.
func TestAccessTokensEndWithTheAccount(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true})
	ctx := context.Background()
	type session struct{ access, refresh string }
	login := func(user string) session {
		t.Helper()
		q := url.Values{"service": {h.Host}, "offline_token": {"true"}, "scope": {"repository:" + user + "/app:pull,push"}}
		r := mustRequest(http.MethodGet, h.URL+"/token?"+q.Encode())
		r.SetBasicAuth(user, user+"-pw")
		a := send(t, r)
		var b tokenBody
		if err := json.Unmarshal([]byte(a.body), &b); err != nil || a.status != 200 {
			t.Fatalf("login %s: %d %s", user, a.status, a.body)
		}
		return session{b.Token, b.RefreshToken}
	}
	// accepted asks with tok on both paths; 401 on either is refused.
	accepted := func(user, tok string) bool {
		t.Helper()
		ok := true
		for _, p := range []string{"/v2/" + user + "/app/tags/list", "/api/v1/user"} {
			r := mustRequest(http.MethodGet, h.URL+p)
			r.Header.Set("Authorization", "Bearer "+tok)
			if send(t, r).status == http.StatusUnauthorized {
				ok = false
			}
		}
		return ok
	}
	ends := map[string]func(s session){
		"sign-out": func(s session) {
			resp, err := http.PostForm(h.URL+"/token/revoke", url.Values{"token": {s.refresh}})
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("revoke: %v %v", resp, err)
			}
			resp.Body.Close()
		},
		"password change": func(session) {
			hash, _ := access.HashPassword("new-pw")
			if err := h.Hub.Meta().SetPassword(ctx, "bob", hash); err != nil {
				t.Fatal(err)
			}
		},
		"deletion": func(session) {
			if err := h.Hub.Meta().DeleteUser(ctx, "carol"); err != nil {
				t.Fatal(err)
			}
		},
	}
	for user, how := range map[string]string{"alice": "sign-out", "bob": "password change", "carol": "deletion"} {
		h.AddUser(t, user, user+"-pw")
		s := login(user)
		if !accepted(user, s.access) {
			t.Fatalf("%s's fresh token refused", user)
		}
		ends[how](s)
		start := time.Now()
		for accepted(user, s.access) {
			if time.Since(start) > time.Second {
				t.Errorf("%s's token still accepted %v after %s", user, time.Since(start).Round(time.Millisecond), how)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if s := login("alice"); !accepted("alice", s.access) {
		t.Error("a token issued after the sign-out is refused")
	}
}
