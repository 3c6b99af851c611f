package token

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

func newIssuer(t *testing.T, ttl time.Duration) *Issuer {
	k, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "keys", "token.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return NewIssuer(k, "berth-hub", "127.0.0.1:5000", ttl)
}

func TestKeyPersists(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k.pem")
	k1, err := LoadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Fatal("the key changed between two loads")
	}
}

func TestIssueVerify(t *testing.T) {
	is := newIssuer(t, time.Minute)
	s, _, err := is.Issue("alice", []Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := is.Verify(s)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || !c.Allows("repository", "alice/app", "push") || c.Allows("repository", "alice/app", "delete") || c.Allows("repository", "bob/app", "pull") {
		t.Fatalf("claims = %+v", c)
	}
	// Another issuer's key, a tampered token, a refresh token: all refused.
	other := newIssuer(t, time.Minute)
	if _, err := other.Verify(s); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Errorf("foreign key accepted: %v", err)
	}
	parts := strings.Split(s, ".")
	if _, err := is.Verify(parts[0] + "." + parts[1] + "x." + parts[2]); err == nil {
		t.Error("tampered token accepted")
	}
	r, err := is.IssueRefresh("alice", "hash", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Verify(r); err == nil {
		t.Error("refresh token accepted as an access token")
	}
	rc, err := is.VerifyRefresh(r)
	if err != nil || rc.PasswordFP != Fingerprint("hash") {
		t.Errorf("VerifyRefresh = %+v, %v", rc, err)
	}
	if _, err := is.VerifyRefresh(s); err == nil {
		t.Error("access token accepted as a refresh token")
	}
}

func TestExpired(t *testing.T) {
	is := newIssuer(t, -time.Minute)
	s, _, err := is.Issue("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Verify(s); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("expired token: %v", err)
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want Access
		ok   bool
	}{
		{"repository:library/welcome:pull", Access{"repository", "library/welcome", []string{"pull"}}, true},
		{"repository:a/b:pull,push,pull", Access{"repository", "a/b", []string{"pull", "push"}}, true},
		{"repository(plugin):a/b:pull", Access{"repository", "a/b", []string{"pull"}}, true},
		{"registry:catalog:*", Access{"registry", "catalog", []string{"*"}}, true},
		{"registry:catalog:search", Access{"registry", "catalog", []string{"search"}}, true},
		{"repository:localhost:5000/a:pull", Access{"repository", "localhost:5000/a", []string{"pull"}}, true},
		{"repository", Access{}, false},
		{"repository:a", Access{}, false},
		{"repository::pull", Access{}, false},
		{"repository:a:", Access{}, false},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseScope(%q) error = %v", tt.in, err)
			continue
		}
		if tt.ok && (got.Type != tt.want.Type || got.Name != tt.want.Name || strings.Join(got.Actions, ",") != strings.Join(tt.want.Actions, ",")) {
			t.Errorf("ParseScope(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"repository:a/b:pull", "registry:catalog:*", "::", "a(b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseScope(s)
		if err != nil {
			return
		}
		if a.Name == "" || len(a.Actions) == 0 || strings.Contains(a.Type, "(") {
			t.Fatalf("ParseScope(%q) = %+v", s, a)
		}
	})
}
