package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// challenge is one WWW-Authenticate challenge: "Bearer realm=...,service=...".
type challenge struct {
	scheme string // lower case: "bearer", "basic"
	params map[string]string
}

// parseChallenges parses WWW-Authenticate header values (RFC 7235): a
// scheme, then comma-separated name=value or name="quoted value" pairs;
// several challenges may share one header.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		s := v
		var cur *challenge
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			tok, rest := cutToken(s)
			if tok == "" {
				break // not a token: give up on the rest of this value
			}
			rest = strings.TrimLeft(rest, " \t")
			if strings.HasPrefix(rest, "=") && cur != nil {
				val, after, ok := parseValue(strings.TrimLeft(rest[1:], " \t"))
				if !ok {
					break
				}
				cur.params[strings.ToLower(tok)] = val
				s = after
				continue
			}
			out = append(out, challenge{scheme: strings.ToLower(tok), params: map[string]string{}})
			cur = &out[len(out)-1]
			s = rest
		}
	}
	return out
}

func isTokenChar(b byte) bool {
	return b > ' ' && b < 0x7f && !strings.ContainsRune(`()<>@,;:\"/[]?={}`, rune(b))
}

func cutToken(s string) (tok, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// parseValue reads a token or a quoted string with backslash escapes.
func parseValue(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		i := 0
		for i < len(s) && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		return s[:i], s[i:], true
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

type cachedToken struct {
	token   string
	expires time.Time
}

// authorization returns the Authorization header value for a request to
// host needing scopes: a bearer token (from the cache unless renew), Basic
// credentials, or "" for none.
func (c *Client) authorization(ctx context.Context, host string, h *hostState, scopes []string, renew bool) (string, error) {
	h.mu.Lock()
	ch := h.challenge
	h.mu.Unlock()
	switch ch.scheme {
	case "basic":
		if c.opts.Credentials == nil {
			return "", nil
		}
		user, pass, ok := c.opts.Credentials.Credentials(host)
		if !ok {
			return "", nil
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
	case "bearer":
		tok, err := c.bearer(ctx, host, ch, scopes, renew)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	}
	return "", nil
}

// bearer returns a token for scopes from the cache or the challenge's realm.
func (c *Client) bearer(ctx context.Context, host string, ch challenge, scopes []string, renew bool) (string, error) {
	sorted := append([]string(nil), scopes...)
	sort.Strings(sorted)
	key := host + "\x00" + ch.params["realm"] + "\x00" + ch.params["service"] + "\x00" + strings.Join(sorted, " ")
	c.mu.Lock()
	lock, ok := c.fetch[key]
	if !ok {
		lock = &sync.Mutex{}
		c.fetch[key] = lock
	}
	c.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	c.mu.Lock()
	t, ok := c.tokens[key]
	c.mu.Unlock()
	if ok && !renew && time.Now().Before(t.expires) {
		return t.token, nil
	}
	var user, pass string
	if c.opts.Credentials != nil {
		user, pass, _ = c.opts.Credentials.Credentials(host)
	}
	tok, ttl, err := c.fetchToken(ctx, host, ch, sorted, user, pass, false)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	// Renew a little early, so a token does not expire in flight.
	c.tokens[key] = cachedToken{token: tok, expires: time.Now().Add(ttl - min(ttl/5, 10*time.Second))}
	c.mu.Unlock()
	return tok, nil
}

// tokenResponse is Docker's token spec answer; OAuth2-style servers say
// access_token instead of token.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// fetchToken asks the realm for a token: GET realm?service=&scope=, with
// Basic credentials when there are some and the realm may have them.
func (c *Client) fetchToken(ctx context.Context, host string, ch challenge, scopes []string, user, pass string, login bool) (string, time.Duration, error) {
	realm, err := url.Parse(ch.params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") || realm.Host == "" {
		return "", 0, fmt.Errorf("registry %s gave an unusable token realm %q: %w", host, ch.params["realm"], errdefs.ErrInvalid)
	}
	if user != "" && realm.Scheme != "https" && !IsLoopback(realm.Host) && !c.isInsecure(realm.Host) {
		return "", 0, fmt.Errorf("refusing to send the credentials for %s to the token server %s over plain HTTP: %w", host, realm.Host, errdefs.ErrDenied)
	}
	q := realm.Query()
	if s := ch.params["service"]; s != "" {
		q.Set("service", s)
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	if login {
		q.Set("offline_token", "true")
		q.Set("client_id", "berth")
	}
	realm.RawQuery = q.Encode()
	hc := c.secure
	if c.isInsecure(realm.Host) {
		hc = c.insecure
	}
	resp, err := c.roundTrip(ctx, hc, func() (*http.Request, error) {
		req, err := c.newRequest(ctx, http.MethodGet, realm.String(), nil)
		if err != nil {
			return nil, err
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		return req, nil
	}, true, 0)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := readError(resp, http.MethodGet, realm)
		if resp.StatusCode == http.StatusUnauthorized && user != "" && e.Message == "" {
			e.Message = "incorrect username or password"
		}
		return "", 0, e
	}
	return decodeToken(resp.Body, realm.Host)
}

// decodeToken reads a token server's answer: the token and how long it
// may be cached.
func decodeToken(r io.Reader, server string) (string, time.Duration, error) {
	var tr tokenResponse
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&tr); err != nil {
		return "", 0, fmt.Errorf("token server %s: %v: %w", server, err, errdefs.ErrInvalid)
	}
	tok := tr.Token
	if tok == "" {
		tok = tr.AccessToken
	}
	if tok == "" {
		return "", 0, fmt.Errorf("token server %s answered without a token: %w", server, errdefs.ErrInvalid)
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl < time.Minute {
		ttl = time.Minute // the spec's default for a missing or short expires_in
	}
	return tok, ttl, nil
}

// Login checks a user name and password against a registry, as `docker
// login` does: with a token server, by asking it for a token; with Basic
// auth, by calling /v2/ with them. It stores nothing.
func (c *Client) Login(ctx context.Context, host, user, password string) error {
	h, err := c.host(ctx, host)
	if err != nil {
		return err
	}
	h.mu.Lock()
	ch := h.challenge
	h.mu.Unlock()
	switch ch.scheme {
	case "bearer":
		_, _, err := c.fetchToken(ctx, host, ch, nil, user, password, true)
		return err
	case "basic":
		u := h.scheme + "://" + host + "/v2/"
		resp, err := c.roundTrip(ctx, h.http, func() (*http.Request, error) {
			req, err := c.newRequest(ctx, http.MethodGet, u, nil)
			if err == nil {
				req.SetBasicAuth(user, password)
			}
			return req, err
		}, true, 0)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			pu, _ := url.Parse(u)
			return readError(resp, http.MethodGet, pu)
		}
	}
	return nil
}
