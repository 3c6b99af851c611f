package ui

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Loopback reports whether addr (host:port) is a loopback address or
// localhost: the only places the dashboard listens.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return loopbackName(host)
}

func loopbackName(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// cookieName carries the port: cookies are not kept apart by port, and
// two dashboards on one machine must not overwrite each other's.
func cookieName(host string) string {
	_, port, _ := net.SplitHostPort(host)
	return "berth-ui-" + port
}

// guard lets a request through, or answers it and returns false:
//   - Host must be a loopback name, so a page of another site whose name
//     was rebound to 127.0.0.1 cannot reach the dashboard as its own origin;
//   - an Origin, when sent, must be the dashboard's own;
//   - the token must come as ?token= (then it is kept in a cookie and the
//     address loses it), as Authorization: Bearer, or in the cookie;
//   - a request that changes something, or opens a websocket, on the
//     strength of the cookie alone must carry the dashboard's Origin:
//     browsers add it, and a page elsewhere cannot forge it.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) bool {
	if !loopbackName(hostOnly(r.Host)) {
		refuse(w, r, http.StatusForbidden, "berth ui answers only to a loopback host name (127.0.0.1, localhost, [::1])")
		return false
	}
	origin := r.Header.Get("Origin")
	if origin != "" && origin != "http://"+r.Host {
		refuse(w, r, http.StatusForbidden, fmt.Sprintf("cross-origin request from %s refused", origin))
		return false
	}
	if q := r.URL.Query().Get("token"); q != "" {
		if !s.tokenOK(q) {
			refuse(w, r, http.StatusUnauthorized, "wrong token: open the address berth ui printed")
			return false
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName(r.Host), Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") {
			// Drop the token from the address bar and the history.
			u := *r.URL
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return false
		}
		return true
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if !s.tokenOK(tok) {
			refuse(w, r, http.StatusUnauthorized, "wrong token")
			return false
		}
		return true
	}
	c, err := r.Cookie(cookieName(r.Host))
	if err != nil || !s.tokenOK(c.Value) {
		refuse(w, r, http.StatusUnauthorized, "this dashboard needs its token: open the address berth ui printed (http://…/?token=…)")
		return false
	}
	if (changes(r) || isWebsocket(r)) && origin == "" {
		refuse(w, r, http.StatusForbidden, "request without an Origin refused")
		return false
	}
	return true
}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func changes(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// refuse answers JSON to the API and a short page to a browser.
func refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, status)
}

// securityHeaders: only the dashboard's own scripts run, nothing frames it,
// and no address (with a token in it) leaks as a referrer. Styles may be
// inline because xterm.js sizes its rows with them.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}
