package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Sessions. Signing in exchanges the password at the token endpoint for a
// refresh token (as `docker login` does), kept in an HttpOnly cookie; each
// page trades it for an access token with the scopes it needs. So a
// session ends when the user changes their password (the hub revokes
// refresh tokens then) or signs out (the sign-out revokes the token at the
// hub, so a copied cookie dies with it), and the pages hold no state of
// their own: any hub process sharing the database and key serves them.
//
// CSRF: a signed-in form carries a token derived from the session cookie,
// which another site can neither read nor compute; the sign-in form, made
// before there is a session, carries a random value that must match a
// cookie of its own (double submit). Every POST whose Origin is another
// site's is refused as well, and the cookies are SameSite=Lax.

const (
	sessionCookie = "berth_hub_session"
	csrfCookie    = "berth_hub_csrf"
)

type session struct {
	refresh string
	access  string // for the page's scopes
	user    *User
}

// csrf is the token the signed-in user's forms carry.
func (se *session) csrf() string {
	if se == nil {
		return ""
	}
	sum := sha256.Sum256([]byte("berth hub csrf\x00" + se.refresh))
	return hex.EncodeToString(sum[:16])
}

// session finds who is signed in and gets an access token for scopes; nil
// means anonymous (no cookie, or one the hub no longer accepts).
func (s *Site) session(w http.ResponseWriter, r *http.Request, scopes ...string) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	ctx := r.Context()
	access, _, err := s.tokens(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.Value}, "scope": {strings.Join(scopes, " ")}})
	if err != nil {
		s.clearSession(w)
		return nil
	}
	var u User
	if err := s.get(ctx, "/api/v1/user", nil, access, &u); err != nil {
		s.clearSession(w)
		return nil
	}
	return &session{refresh: c.Value, access: access, user: &u}
}

func (s *Site) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func (s *Site) clearSession(w http.ResponseWriter) { s.setCookie(w, sessionCookie, "", -1) }

// signIn checks the credentials at the token endpoint and starts a session.
func (s *Site) signIn(ctx context.Context, w http.ResponseWriter, user, password string) error {
	_, refresh, err := s.tokens(ctx, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "access_type": {"offline"}})
	if err != nil {
		return err
	}
	if refresh == "" {
		return errors.New("the hub gave no session")
	}
	s.setCookie(w, sessionCookie, refresh, 0)
	return nil
}

// revoke ends a session's refresh token at the hub, so that a copy of the
// cookie (a shared computer, a stolen backup) stops working with it.
func (s *Site) revoke(ctx context.Context, refresh string) error {
	form := url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}, "client_id": {"berth-hub-web"}}
	return s.call(ctx, http.MethodPost, "/token/revoke", nil, "", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil)
}

// formCSRF makes the sign-in form's token and its cookie.
func (s *Site) formCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	v := hex.EncodeToString(b)
	s.setCookie(w, csrfCookie, v, 3600)
	return v
}

// checkCSRF verifies a POST's token: the session's when signed in, else
// the sign-in form's cookie.
func checkCSRF(r *http.Request, se *session) bool {
	got := r.PostFormValue("csrf")
	want := se.csrf()
	if se == nil {
		c, err := r.Cookie(csrfCookie)
		if err != nil {
			return false
		}
		want = c.Value
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin refuses a request that says it comes from another site.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// localPath is next if it is a path on this site, else "/". It is
// parsed, not matched by prefix: browsers drop tabs and newlines inside a
// URL and read a backslash as a slash, so "/\t/evil.example" and
// "/\\evil.example" are both another site to them. Nothing but a plain
// path, query and fragment passes: no scheme, no host, no backslash, no
// leading "//", no control or non-ASCII characters.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		if c < 0x21 || c > 0x7e || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}
