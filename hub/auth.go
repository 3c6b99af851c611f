package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/errcode"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/hub/token"
)

// identity is who is asking. The zero value is anonymous.
type identity struct {
	user  string
	admin bool
	orgs  []string
	// claims are the bearer token's grants; nil when the user gave a
	// password, which carries all of the user's rights.
	claims *token.Claims
}

// narrow is id as far as its token allows an action: a token only speaks
// for its user on what it lists, so a token for one repository does not
// star another, and one without registry:catalog:search searches as
// anonymous.
func (id identity) narrow(typ, name, action string) identity {
	if id.claims == nil || id.claims.Allows(typ, name, action) {
		return id
	}
	return identity{}
}

// loadIdentity reads a user's admin flag and organisations.
func (h *Hub) loadIdentity(ctx context.Context, u meta.User) (identity, error) {
	orgs, err := h.meta.UserOrgs(ctx, u.Name)
	if err != nil {
		return identity{}, err
	}
	return identity{user: u.Name, admin: u.Admin, orgs: orgs}, nil
}

// checkPassword authenticates a user from client, or fails with
// ErrUnauthorized. A name or client that failed too often is refused first
// with a *throttleError, before the database or bcrypt is asked.
func (h *Hub) checkPassword(ctx context.Context, client, name, password string) (meta.User, error) {
	if err := h.signIns.check(name, client); err != nil {
		return meta.User{}, h.refused(err)
	}
	u, err := h.meta.User(ctx, name)
	known := err == nil
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return meta.User{}, err
	}
	key := passwordKey(name, password, u.PasswordHash)
	if known && h.passwords.ok(key) {
		h.signIns.succeeded(name)
		return u, nil
	}
	done, err := h.signIns.begin(name, client)
	if err != nil {
		return meta.User{}, h.refused(err)
	}
	ok := h.passwordMatches(u.PasswordHash, known, password)
	done(ok)
	if !ok {
		return meta.User{}, fmt.Errorf("incorrect username or password: %w", errdefs.ErrUnauthorized)
	}
	h.passwords.add(key)
	return u, nil
}

// passwordMatches runs bcrypt, the cost a guess makes the hub pay. For an
// unknown user it runs on a dummy hash, so timing tells nothing.
func (h *Hub) passwordMatches(hash string, known bool, password string) bool {
	h.metrics.PasswordChecks.Inc()
	if !known {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

func (h *Hub) refused(err error) error {
	h.metrics.SignInRefusals.Inc()
	return err
}

// passwordKey names a good password in the cache: user, password and
// stored hash, so a changed password or a deleted user misses.
func passwordKey(name, password, hash string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + password + "\x00" + hash))
	return hex.EncodeToString(sum[:])
}

// dummyHash is made at first use, not at start: bcrypt takes tens of
// milliseconds, and every berth process (a shim per container) would pay.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("berth"), bcrypt.DefaultCost)
	return h
})

// requestIdentity finds who sent r from its Authorization header: a bearer
// token the hub issued, or Basic credentials. No header is anonymous; a bad
// one is an error, never anonymous.
func (h *Hub) requestIdentity(r *http.Request) (identity, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return identity{}, nil
	}
	ctx := r.Context()
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		c, err := h.tokens.Verify(strings.TrimSpace(tok))
		if err != nil {
			return identity{}, err
		}
		if c.Subject == "" {
			return identity{claims: c}, nil
		}
		u, err := h.meta.User(ctx, c.Subject)
		if err != nil {
			return identity{}, fmt.Errorf("token for an unknown user: %w", errdefs.ErrUnauthorized)
		}
		id, err := h.loadIdentity(ctx, u)
		id.claims = c
		return id, err
	}
	if name, pw, ok := r.BasicAuth(); ok {
		u, err := h.checkPassword(ctx, clientOf(r), name, pw)
		if err != nil {
			return identity{}, err
		}
		return h.loadIdentity(ctx, u)
	}
	return identity{}, fmt.Errorf("unsupported authorization scheme: %w", errdefs.ErrUnauthorized)
}

// canWrite reports whether id may push to and delete in the repository:
// its own namespace, an organisation's it belongs to, anything for admins
// (who alone own library/).
func (h *Hub) canWrite(id identity, repo string) bool {
	if h.cfg.Open || id.admin {
		return true
	}
	if id.user == "" {
		return false
	}
	ns := names.Namespace(repo)
	return ns == id.user || slices.Contains(id.orgs, ns)
}

// canPull reports whether id may read the repository: public ones (and
// ones not made yet) for everyone, private ones for who may write them.
func (h *Hub) canPull(id identity, repo string) bool {
	r, ok := h.meta.Lookup(names.Canonical(repo))
	if !ok || !r.Private {
		return true
	}
	return h.canWrite(id, repo)
}

// grant returns the actions of a requested access that id gets.
func (h *Hub) grant(id identity, a token.Access) []string {
	var out []string
	add := func(act string) {
		if !slices.Contains(out, act) {
			out = append(out, act)
		}
	}
	switch a.Type {
	case "repository":
		if !names.Valid(a.Name) {
			return nil
		}
		for _, act := range a.Actions {
			switch act {
			case "pull":
				if h.canPull(id, a.Name) {
					add("pull")
				}
			case "push", "delete":
				if h.canWrite(id, a.Name) && h.canPull(id, a.Name) {
					add(act)
				}
			case "*":
				if h.canWrite(id, a.Name) {
					add("pull")
					add("push")
					add("delete")
				} else if h.canPull(id, a.Name) {
					add("pull")
				}
			}
		}
	case "registry":
		if a.Name == "catalog" {
			for _, act := range a.Actions {
				if act == "search" || act == "*" {
					add(act)
				}
			}
		}
	}
	return out
}

// authorize lets a /v2/ request through if it may do all the actions on the
// named repository, and answers it otherwise: 401 with a challenge for
// anonymous or bad credentials, 403 for a known user refused.
func (h *Hub) authorize(w http.ResponseWriter, r *http.Request, name string, actions ...string) bool {
	d := h.decide(r, name, actions...)
	switch d.verdict {
	case allowed:
		return true
	case throttled:
		refuseThrottled(w, r, d.err)
	case denied:
		// 401, not 403: the docker CLI retries a 403 for a minute, while a
		// 401 with error="insufficient_scope" stops it with "denied".
		h.challenge(w, r, name, actions, "insufficient_scope", "requested access to the resource is denied")
	default:
		h.challenge(w, r, name, actions, d.errCode, d.msg)
	}
	return false
}

type verdict int

const (
	allowed verdict = iota
	challenged
	denied
	throttled // Basic credentials refused unchecked: too many failures
)

type decision struct {
	verdict verdict
	errCode string
	msg     string
	err     error // the refusal, when throttled
}

// decide is authorize without the answer, for checks such as a mount's
// source repository that fall back instead of failing.
func (h *Hub) decide(r *http.Request, name string, actions ...string) decision {
	if h.cfg.Open {
		return decision{}
	}
	repo := names.Canonical(name)
	auth := r.Header.Get("Authorization")
	var c *token.Claims
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		var err error
		if c, err = h.tokens.Verify(strings.TrimSpace(tok)); err != nil {
			return decision{verdict: challenged, errCode: "invalid_token", msg: err.Error()}
		}
	} else if auth != "" {
		id, err := h.requestIdentity(r)
		if errors.Is(err, errThrottled) {
			return decision{verdict: throttled, err: err}
		}
		if err != nil {
			return decision{verdict: challenged, msg: err.Error()}
		}
		granted := h.grant(id, token.Access{Type: "repository", Name: repo, Actions: actions})
		c = &token.Claims{Access: []token.Access{{Type: "repository", Name: repo, Actions: granted}}}
		c.Subject = id.user
	}
	missing := ""
	for _, act := range actions {
		if c != nil && c.Allows("repository", repo, act) {
			continue
		}
		// Anonymous reads of public repositories need no token at all: a
		// tokenless client (curl, wrk) can pull what anyone may pull.
		if c == nil && act == "pull" && h.canPull(identity{}, repo) {
			continue
		}
		missing = act
		break
	}
	switch {
	case missing == "":
		return decision{}
	case c == nil || c.Subject == "" || missing == "pull":
		return decision{verdict: challenged, errCode: "insufficient_scope", msg: "authentication required"}
	}
	return decision{verdict: denied}
}

// refuseThrottled answers a refused sign-in with the spec's error body,
// 429 and Retry-After, and reports whether err was one.
func refuseThrottled(w http.ResponseWriter, r *http.Request, err error) bool {
	v, ok := retryAfter(err)
	if !ok {
		return false
	}
	w.Header().Set("Retry-After", v)
	errcode.Write(w, r, errcode.New(errcode.TooManyRequests, err.Error()))
	return true
}

// refusalStatus is the status for a request whose credentials failed: 429
// with Retry-After for a throttled sign-in, else 401.
func refusalStatus(w http.ResponseWriter, err error) int {
	if v, ok := retryAfter(err); ok {
		w.Header().Set("Retry-After", v)
		return http.StatusTooManyRequests
	}
	return http.StatusUnauthorized
}

// challenge answers 401 with Docker's WWW-Authenticate header.
func (h *Hub) challenge(w http.ResponseWriter, r *http.Request, name string, actions []string, errCode, msg string) {
	v := `Bearer realm="` + h.realm + `",service="` + h.service + `"`
	if name != "" {
		v += `,scope="repository:` + name + `:` + strings.Join(actions, ",") + `"`
	}
	if errCode != "" {
		v += `,error="` + errCode + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	errcode.Write(w, r, errcode.New(errcode.Unauthorized, msg))
}

// tokenResponse is what the token endpoint answers, in the shape of both
// Docker's token spec and its OAuth2 variant.
type tokenResponse struct {
	Token        string `json:"token,omitempty"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// serveToken is the token endpoint: GET with optional Basic credentials
// (`docker login`, pulls), POST with grant_type=password or refresh_token
// (the OAuth2 flow Docker uses once it holds a refresh token).
func (h *Hub) serveToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var (
		id      identity
		pwHash  string
		scopes  []string
		offline bool
		service string
		oauth   bool
	)
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		scopes, service = q["scope"], q.Get("service")
		offline = q.Get("offline_token") == "true"
		if name, pw, ok := r.BasicAuth(); ok {
			u, err := h.checkPassword(ctx, clientOf(r), name, pw)
			if err != nil {
				tokenFailure(w, err)
				return
			}
			pwHash = u.PasswordHash
			if id, err = h.loadIdentity(ctx, u); err != nil {
				tokenError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
				return
			}
		} else if r.Header.Get("Authorization") != "" {
			tokenError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unsupported authorization scheme")
			return
		}
	case http.MethodPost:
		oauth = true
		if err := r.ParseForm(); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		f := r.PostForm
		service = f.Get("service")
		scopes = strings.Fields(f.Get("scope"))
		offline = f.Get("access_type") == "offline"
		var u meta.User
		var err error
		switch f.Get("grant_type") {
		case "password":
			u, err = h.checkPassword(ctx, clientOf(r), f.Get("username"), f.Get("password"))
		case "refresh_token":
			u, err = h.checkRefresh(ctx, f.Get("refresh_token"))
			offline = true
		default:
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
			return
		}
		if err != nil {
			grantFailure(w, err)
			return
		}
		pwHash = u.PasswordHash
		if id, err = h.loadIdentity(ctx, u); err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		tokenError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "use GET or POST")
		return
	}
	if service != "" && service != h.service {
		tokenError(w, http.StatusBadRequest, "UNSUPPORTED", fmt.Sprintf("this hub serves %q, not %q", h.service, service))
		return
	}
	var access []token.Access
	var granted []string
	for _, s := range scopes {
		for _, one := range strings.Fields(s) {
			a, err := token.ParseScope(one)
			if err != nil {
				tokenError(w, http.StatusBadRequest, "UNSUPPORTED", err.Error())
				return
			}
			if a.Type == "repository" {
				a.Name = names.Canonical(a.Name)
			}
			acts := h.grant(id, a)
			if len(acts) == 0 {
				continue
			}
			access = append(access, token.Access{Type: a.Type, Name: a.Name, Actions: acts})
			granted = append(granted, a.Type+":"+a.Name+":"+strings.Join(acts, ","))
		}
	}
	tok, issued, err := h.tokens.Issue(id.user, access)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	resp := tokenResponse{AccessToken: tok, ExpiresIn: int(h.cfg.TokenTTL / time.Second), IssuedAt: issued.UTC().Format(time.RFC3339)}
	if !oauth {
		resp.Token = tok
	} else {
		resp.Scope = strings.Join(granted, " ")
	}
	if offline && id.user != "" {
		if resp.RefreshToken, err = h.tokens.IssueRefresh(id.user, pwHash, h.cfg.RefreshTTL); err != nil {
			tokenError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// tokenFailure answers a failed GET /token in Docker's error format, which
// the docker CLI prints: 429 for a throttled sign-in, 401 for bad
// credentials, 500 when the hub could not tell.
func tokenFailure(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errThrottled):
		v, _ := retryAfter(err)
		w.Header().Set("Retry-After", v)
		tokenError(w, errcode.TooManyRequests.Status, errcode.TooManyRequests.Value, err.Error())
	case errors.Is(err, errdefs.ErrUnauthorized):
		tokenError(w, http.StatusUnauthorized, errcode.Unauthorized.Value, err.Error())
	default:
		tokenError(w, http.StatusInternalServerError, errcode.Unknown.Value, err.Error())
	}
}

// grantFailure answers a failed POST /token in OAuth2's format. OAuth2 has
// no code for throttling; temporarily_unavailable is its nearest, and the
// 429 and Retry-After say the rest.
func grantFailure(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errThrottled):
		v, _ := retryAfter(err)
		w.Header().Set("Retry-After", v)
		oauthError(w, http.StatusTooManyRequests, "temporarily_unavailable", err.Error())
	case errors.Is(err, errdefs.ErrUnauthorized):
		oauthError(w, http.StatusUnauthorized, "invalid_grant", err.Error())
	default:
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
	}
}

func tokenError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errcode.Body{Errors: []errcode.Entry{{Code: code, Message: msg}}})
}

func oauthError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": msg})
}

// HashPassword hashes a password for storing.
func HashPassword(pw string) (string, error) {
	if len(pw) < 1 || len(pw) > 72 {
		return "", fmt.Errorf("a password has 1 to 72 bytes: %w", errdefs.ErrInvalid)
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(b), err
}
