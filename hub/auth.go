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
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/meta"
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

// checkPassword authenticates a user, or fails with ErrUnauthorized.
func (h *Hub) checkPassword(ctx context.Context, name, password string) (meta.User, error) {
	u, err := h.meta.User(ctx, name)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			// Spend the same time as a real check, so timing tells nothing.
			_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
			return meta.User{}, fmt.Errorf("incorrect username or password: %w", errdefs.ErrUnauthorized)
		}
		return meta.User{}, err
	}
	sum := sha256.Sum256([]byte(name + "\x00" + password + "\x00" + u.PasswordHash))
	key := hex.EncodeToString(sum[:])
	if h.passwords.ok(key) {
		return u, nil
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return meta.User{}, fmt.Errorf("incorrect username or password: %w", errdefs.ErrUnauthorized)
	}
	h.passwords.add(key)
	return u, nil
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("berth"), bcrypt.DefaultCost)

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
		u, err := h.checkPassword(ctx, name, pw)
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
	ns := namespace(repo)
	return ns == id.user || slices.Contains(id.orgs, ns)
}

// canPull reports whether id may read the repository: public ones (and
// ones not made yet) for everyone, private ones for who may write them.
func (h *Hub) canPull(id identity, repo string) bool {
	r, ok := h.repos.get(canonical(repo))
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
		if !validName(a.Name) {
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
)

type decision struct {
	verdict verdict
	errCode string
	msg     string
}

// decide is authorize without the answer, for checks such as a mount's
// source repository that fall back instead of failing.
func (h *Hub) decide(r *http.Request, name string, actions ...string) decision {
	if h.cfg.Open {
		return decision{}
	}
	repo := canonical(name)
	auth := r.Header.Get("Authorization")
	var c *token.Claims
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		var err error
		if c, err = h.tokens.Verify(strings.TrimSpace(tok)); err != nil {
			return decision{challenged, "invalid_token", err.Error()}
		}
	} else if auth != "" {
		id, err := h.requestIdentity(r)
		if err != nil {
			return decision{challenged, "", err.Error()}
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
		return decision{challenged, "insufficient_scope", "authentication required"}
	}
	return decision{verdict: denied}
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
	writeError(w, r, newError(codeUnauthorized, msg))
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
			u, err := h.checkPassword(ctx, name, pw)
			if err != nil {
				tokenError(w, http.StatusUnauthorized, "UNAUTHORIZED", err.Error())
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
			u, err = h.checkPassword(ctx, f.Get("username"), f.Get("password"))
		case "refresh_token":
			u, err = h.checkRefresh(ctx, f.Get("refresh_token"))
			offline = true
		default:
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
			return
		}
		if err != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_grant", err.Error())
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
				a.Name = canonical(a.Name)
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

// checkRefresh accepts a refresh token whose user still has the password
// it was issued under.
func (h *Hub) checkRefresh(ctx context.Context, s string) (meta.User, error) {
	c, err := h.tokens.VerifyRefresh(s)
	if err != nil {
		return meta.User{}, err
	}
	u, err := h.meta.User(ctx, c.Subject)
	if err != nil || token.Fingerprint(u.PasswordHash) != c.PasswordFP {
		return meta.User{}, fmt.Errorf("refresh token revoked: %w", errdefs.ErrUnauthorized)
	}
	return u, nil
}

func tokenError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Errors: []errorEntry{{Code: code, Message: msg}}})
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
