// Package access decides who may do what on the hub, the way
// distribution's auth package gives its handlers an access controller: it
// finds who sent a request (a bearer token the hub issued, or a password
// checked with bcrypt behind a sign-in throttle), answers the registry API's
// 401 challenges, and serves Docker's token endpoint and token revocation.
package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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

// Config says how the controller decides. The hub fills in the defaults.
type Config struct {
	// Open lets anyone do anything.
	Open bool
	// Realm is the token endpoint's URL and Service the token service
	// name, both as the challenges announce them.
	Realm, Service string

	TokenTTL, RefreshTTL time.Duration

	// The sign-in throttle; see the hub's Config.
	SignInFailures      int
	SignInFailuresPerIP int
	SignInWindow        time.Duration
	SignInBackoff       time.Duration

	Logger *slog.Logger

	// PasswordChecks counts bcrypt comparisons and SignInRefusals the
	// attempts refused unchecked: together they show guessing and what it
	// costs. Either may be nil.
	PasswordChecks, SignInRefusals Counter
}

// Counter is the part of a metric the controller adds to.
type Counter interface{ Inc() }

type noCounter struct{}

func (noCounter) Inc() {}

// Store is what the controller reads: accounts, revoked refresh tokens,
// and which repositories are private.
type Store interface {
	User(ctx context.Context, name string) (meta.User, error)
	UserOrgs(ctx context.Context, user string) ([]string, error)
	RevokeToken(ctx context.Context, id string, expires time.Time) error
	SignOut(ctx context.Context, name string) error
	TokenRevoked(ctx context.Context, id string) (bool, error)
	// Lookup returns a repository's record, from memory: every pull asks.
	Lookup(name string) (meta.Repo, bool)
}

// Controller authenticates requests and authorizes them for scopes.
type Controller struct {
	cfg       Config
	store     Store
	tokens    *token.Issuer
	signIns   *signInLimiter
	passwords passwordCache
	epochs    epochs
	// publicHost is the realm's host, the one an Origin of the hub's own
	// pages names even when a proxy changes Host.
	publicHost string
}

// New makes a controller that issues and checks tokens with tokens.
func New(cfg Config, store Store, tokens *token.Issuer) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PasswordChecks == nil {
		cfg.PasswordChecks = noCounter{}
	}
	if cfg.SignInRefusals == nil {
		cfg.SignInRefusals = noCounter{}
	}
	ctl := &Controller{cfg: cfg, store: store, tokens: tokens, signIns: newSignInLimiter(cfg, cfg.Logger)}
	if u, err := url.Parse(cfg.Realm); err == nil {
		ctl.publicHost = u.Host
	}
	return ctl
}

// AccountChanged forgets the passwords found good and the account's
// epoch, after a change to accounts made elsewhere.
func (ctl *Controller) AccountChanged(name string) {
	ctl.passwords.forget(name)
	ctl.epochs.forget(name)
}

// Identity is who is asking. The zero value is anonymous.
type Identity struct {
	User  string
	Admin bool
	Orgs  []string
	// Claims are the bearer token's grants; nil when the user gave a
	// password, which carries all of the user's rights.
	Claims *token.Claims
}

// Narrow is id as far as its token allows an action: a token only speaks
// for its user on what it lists, so a token for one repository does not
// star another, and one without registry:catalog:search searches as
// anonymous.
func (id Identity) Narrow(typ, name, action string) Identity {
	if id.Claims == nil || id.Claims.Allows(typ, name, action) {
		return id
	}
	return Identity{}
}

// loadIdentity reads a user's admin flag and organisations.
func (ctl *Controller) loadIdentity(ctx context.Context, u meta.User) (Identity, error) {
	orgs, err := ctl.store.UserOrgs(ctx, u.Name)
	if err != nil {
		return Identity{}, err
	}
	return Identity{User: u.Name, Admin: u.Admin, Orgs: orgs}, nil
}

// checkPassword authenticates a user from client, or fails with
// ErrUnauthorized. A name or client that failed too often is refused first
// with a *throttleError, before the database or bcrypt is asked.
func (ctl *Controller) checkPassword(ctx context.Context, client, name, password string) (meta.User, error) {
	if err := ctl.signIns.check(name, client); err != nil {
		return meta.User{}, ctl.refused(err)
	}
	u, err := ctl.store.User(ctx, name)
	known := err == nil
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return meta.User{}, err
	}
	key := passwordKey(name, password, u.PasswordHash)
	if known && ctl.passwords.ok(key) {
		ctl.signIns.succeeded(name, client)
		return u, nil
	}
	done, err := ctl.signIns.begin(name, client)
	if err != nil {
		return meta.User{}, ctl.refused(err)
	}
	ok := ctl.passwordMatches(u.PasswordHash, known, password)
	done(ok)
	if !ok {
		return meta.User{}, fmt.Errorf("incorrect username or password: %w", errdefs.ErrUnauthorized)
	}
	ctl.passwords.add(key)
	return u, nil
}

// passwordMatches runs bcrypt, the cost a guess makes the hub pay. For an
// unknown user it runs on a dummy hash, so timing tells nothing.
func (ctl *Controller) passwordMatches(hash string, known bool, password string) bool {
	ctl.cfg.PasswordChecks.Inc()
	if !known {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

func (ctl *Controller) refused(err error) error {
	ctl.cfg.SignInRefusals.Inc()
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

// Identify finds who sent r from its Authorization header: a bearer
// token the hub issued, or Basic credentials. No header is anonymous; a bad
// one is an error, never anonymous.
func (ctl *Controller) Identify(r *http.Request) (Identity, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return Identity{}, nil
	}
	ctx := r.Context()
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		c, err := ctl.verifyAccess(ctx, strings.TrimSpace(tok))
		if err != nil {
			return Identity{}, err
		}
		if c.Subject == "" {
			return Identity{Claims: c}, nil
		}
		u, err := ctl.store.User(ctx, c.Subject)
		if err != nil {
			return Identity{}, fmt.Errorf("token for an unknown user: %w", errdefs.ErrUnauthorized)
		}
		id, err := ctl.loadIdentity(ctx, u)
		id.Claims = c
		return id, err
	}
	if name, pw, ok := r.BasicAuth(); ok {
		u, err := ctl.checkPassword(ctx, clientOf(r), name, pw)
		if err != nil {
			return Identity{}, err
		}
		return ctl.loadIdentity(ctx, u)
	}
	return Identity{}, fmt.Errorf("unsupported authorization scheme: %w", errdefs.ErrUnauthorized)
}

// CanWrite reports whether id may push to and delete in the repository:
// its own namespace, an organisation's it belongs to, anything for admins
// (who alone own library/).
func (ctl *Controller) CanWrite(id Identity, repo string) bool {
	if ctl.cfg.Open || id.Admin {
		return true
	}
	if id.User == "" {
		return false
	}
	ns := names.Namespace(repo)
	return ns == id.User || slices.Contains(id.Orgs, ns)
}

// CanPull reports whether id may read the repository: public ones (and
// ones not made yet) for everyone, private ones for who may write them.
func (ctl *Controller) CanPull(id Identity, repo string) bool {
	r, ok := ctl.store.Lookup(names.Canonical(repo))
	if !ok || !r.Private {
		return true
	}
	return ctl.CanWrite(id, repo)
}

// grant returns the actions of a requested access that id gets.
func (ctl *Controller) grant(id Identity, a token.Access) []string {
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
				if ctl.CanPull(id, a.Name) {
					add("pull")
				}
			case "push", "delete":
				if ctl.CanWrite(id, a.Name) && ctl.CanPull(id, a.Name) {
					add(act)
				}
			case "*":
				if ctl.CanWrite(id, a.Name) {
					add("pull")
					add("push")
					add("delete")
				} else if ctl.CanPull(id, a.Name) {
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

// Authorize lets a /v2/ request through if it may do all the actions on the
// named repository, and answers it otherwise: 401 with a challenge for
// anonymous or bad credentials, 403 for a known user refused.
func (ctl *Controller) Authorize(w http.ResponseWriter, r *http.Request, name string, actions ...string) bool {
	d := ctl.decide(r, name, actions...)
	switch d.verdict {
	case allowed:
		return true
	case throttled:
		RefuseThrottled(w, r, d.err)
	case denied:
		// 401, not 403: the docker CLI retries a 403 for a minute, while a
		// 401 with error="insufficient_scope" stops it with "denied".
		ctl.Challenge(w, r, name, actions, "insufficient_scope", "requested access to the resource is denied")
	default:
		ctl.Challenge(w, r, name, actions, d.errCode, d.msg)
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

// decide is Authorize without the answer, for checks such as a mount's
// source repository that fall back instead of failing.
func (ctl *Controller) decide(r *http.Request, name string, actions ...string) decision {
	if ctl.cfg.Open {
		return decision{}
	}
	repo := names.Canonical(name)
	auth := r.Header.Get("Authorization")
	var c *token.Claims
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		var err error
		if c, err = ctl.verifyAccess(r.Context(), strings.TrimSpace(tok)); err != nil {
			return decision{verdict: challenged, errCode: "invalid_token", msg: err.Error()}
		}
	} else if auth != "" {
		id, err := ctl.Identify(r)
		if errors.Is(err, errThrottled) {
			return decision{verdict: throttled, err: err}
		}
		if err != nil {
			return decision{verdict: challenged, msg: err.Error()}
		}
		granted := ctl.grant(id, token.Access{Type: "repository", Name: repo, Actions: actions})
		c = &token.Claims{Access: []token.Access{{Type: "repository", Name: repo, Actions: granted}}}
		c.Subject = id.User
	}
	missing := ""
	for _, act := range actions {
		if c != nil && c.Allows("repository", repo, act) {
			continue
		}
		// Anonymous reads of public repositories need no token at all: a
		// tokenless client (curl, wrk) can pull what anyone may pull.
		if c == nil && act == "pull" && ctl.CanPull(Identity{}, repo) {
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

// Allowed reports whether r may do all the actions on the named
// repository, answering nothing: for checks such as a mount's source
// repository that fall back instead of failing.
func (ctl *Controller) Allowed(r *http.Request, name string, actions ...string) bool {
	return ctl.decide(r, name, actions...).verdict == allowed
}

// RefuseThrottled answers a refused sign-in with the spec's error body,
// 429 and Retry-After, and reports whether err was one.
func RefuseThrottled(w http.ResponseWriter, r *http.Request, err error) bool {
	v, ok := retryAfter(err)
	if !ok {
		return false
	}
	w.Header().Set("Retry-After", v)
	errcode.Write(w, r, errcode.New(errcode.TooManyRequests, err.Error()))
	return true
}

// RefusalStatus is the status for a request whose credentials failed: 429
// with Retry-After for a throttled sign-in, else 401.
func RefusalStatus(w http.ResponseWriter, err error) int {
	if v, ok := retryAfter(err); ok {
		w.Header().Set("Retry-After", v)
		return http.StatusTooManyRequests
	}
	return http.StatusUnauthorized
}

// Challenge answers 401 with Docker's WWW-Authenticate header.
func (ctl *Controller) Challenge(w http.ResponseWriter, r *http.Request, name string, actions []string, errCode, msg string) {
	v := `Bearer realm="` + ctl.cfg.Realm + `",service="` + ctl.cfg.Service + `"`
	if name != "" {
		v += `,scope="repository:` + name + `:` + strings.Join(actions, ",") + `"`
	}
	if errCode != "" {
		v += `,error="` + errCode + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	errcode.Write(w, r, errcode.New(errcode.Unauthorized, msg))
}

// HashPassword hashes a password for storing.
func HashPassword(pw string) (string, error) {
	if len(pw) < 1 || len(pw) > 72 {
		return "", fmt.Errorf("a password has 1 to 72 bytes: %w", errdefs.ErrInvalid)
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(b), err
}
