// Package token issues and checks the hub's bearer tokens: Docker's token
// authentication (https://distribution.github.io/distribution/spec/auth/token/),
// with JWTs signed by a key the hub creates on first start.
//
// Two kinds of token exist: an access token, short-lived, listing what its
// bearer may do (the "access" claim); and a refresh token, long-lived, which
// `docker login` keeps instead of the password and trades for access tokens
// with the OAuth2 refresh_token grant. A refresh token carries a fingerprint
// of the password hash, so changing the password revokes it.
package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-dev/berth/errdefs"
)

// Access is what a token grants on one resource, as Docker's token spec
// writes it: {"type":"repository","name":"library/welcome","actions":["pull"]}.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Allows reports whether a grants action on typ/name. "*" grants every action.
func (a Access) Allows(typ, name, action string) bool {
	return a.Type == typ && a.Name == name && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, "*"))
}

// Claims are an access or refresh token's contents.
type Claims struct {
	jwt.RegisteredClaims
	Access []Access `json:"access,omitempty"`
	// Kind is "refresh" for refresh tokens, empty for access tokens.
	Kind string `json:"kind,omitempty"`
	// PasswordFP fingerprints the password hash a refresh token was made under.
	PasswordFP string `json:"pwfp,omitempty"`
	// Epoch is the subject's account epoch when an access token was
	// issued (see Epoch): the hub refuses the token once it changes.
	Epoch string `json:"ep,omitempty"`
}

// Epoch is an account's state as its access tokens carry it: its
// password hash's fingerprint and its count of sign-outs. Changing the
// password or signing out changes it; a deleted account has none.
func Epoch(pwHash string, signOuts int64) string {
	return Fingerprint(pwHash) + "." + strconv.FormatInt(signOuts, 10)
}

// Allows reports whether the token grants action on typ/name.
func (c *Claims) Allows(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Allows(typ, name, action) {
			return true
		}
	}
	return false
}

// Issuer signs and verifies tokens for one service.
type Issuer struct {
	key     *ecdsa.PrivateKey
	kid     string
	Issuer  string // the "iss" claim
	Service string // the "aud" claim: the service name clients send
	TTL     time.Duration

	cache *verifiedCache // verified access tokens: ES256 verification is the costly part of a pull
}

// MaxTokenBytes is the longest token the hub issues or reads. The token
// endpoint grants at most 100 scopes of names of at most 255 bytes, about
// 45 KB at the very worst; anything longer was not made here, and is
// refused before it is decoded.
const MaxTokenBytes = 64 << 10

// CacheBytes is how much the verified-token cache may hold: some 16,000
// tokens of a typical pull's size.
const CacheBytes = 16 << 20

// ErrTooBig is the kind of a token over MaxTokenBytes.
var ErrTooBig = errors.New("token too big")

// LoadOrCreateKey reads the signing key at path, creating it (P-256, 0600,
// written atomically) if it does not exist.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("token key %s is not PEM: %w", path, errdefs.ErrInvalid)
		}
		k, err := x509.ParseECPrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("token key %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("token key: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pem.Encode(f, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	// Link, not rename: if another process created the key meanwhile, use theirs.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		os.Remove(tmp)
		return nil, err
	}
	os.Remove(tmp)
	return LoadOrCreateKey(path)
}

// NewIssuer returns an issuer signing with key.
func NewIssuer(key *ecdsa.PrivateKey, issuer, service string, ttl time.Duration) *Issuer {
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(pub)
	return &Issuer{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12]), Issuer: issuer, Service: service, TTL: ttl, cache: newVerifiedCache(CacheBytes)}
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Issue signs an access token for subject ("" for anonymous). A token
// over MaxTokenBytes is an error: no verifier would take it.
func (is *Issuer) Issue(subject string, access []Access) (string, time.Time, error) {
	return is.IssueAt(subject, "", access)
}

// IssueAt is Issue for a subject whose account is at epoch (see Epoch).
func (is *Issuer) IssueAt(subject, epoch string, access []Access) (string, time.Time, error) {
	s, now, err := is.issue(subject, epoch, access)
	if err == nil && len(s) > MaxTokenBytes {
		return "", now, fmt.Errorf("%d bytes of grants, over %d: %w: %w", len(s), MaxTokenBytes, ErrTooBig, errdefs.ErrInvalid)
	}
	return s, now, err
}

func (is *Issuer) issue(subject, epoch string, access []Access) (string, time.Time, error) {
	now := time.Now()
	exp := now.Add(is.TTL)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: is.Issuer, Subject: subject, Audience: jwt.ClaimStrings{is.Service},
			ExpiresAt: jwt.NewNumericDate(exp), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			IssuedAt: jwt.NewNumericDate(now), ID: randomID(),
		},
		Access: access,
		Epoch:  epoch,
	}
	if c.Access == nil {
		c.Access = []Access{}
	}
	s, err := is.sign(&c)
	return s, now, err
}

// IssueRefresh signs a refresh token for a user whose password hash is pwHash.
func (is *Issuer) IssueRefresh(subject, pwHash string, ttl time.Duration) (string, error) {
	now := time.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: is.Issuer, Subject: subject, Audience: jwt.ClaimStrings{is.Service},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), IssuedAt: jwt.NewNumericDate(now), ID: randomID(),
		},
		Kind:       "refresh",
		PasswordFP: Fingerprint(pwHash),
	}
	return is.sign(&c)
}

// Fingerprint is a short digest of a password hash.
func Fingerprint(pwHash string) string {
	sum := sha256.Sum256([]byte(pwHash))
	return hex.EncodeToString(sum[:8])
}

func (is *Issuer) sign(c *Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = is.kid
	return t.SignedString(is.key)
}

// Verify checks an access token: signature, issuer, audience, expiry.
func (is *Issuer) Verify(s string) (*Claims, error) {
	if len(s) > MaxTokenBytes {
		return nil, fmt.Errorf("%d bytes, over %d: %w: %w", len(s), MaxTokenBytes, ErrTooBig, errdefs.ErrUnauthorized)
	}
	if c := is.cache.get(s); c != nil {
		if c.ExpiresAt != nil && time.Now().Before(c.ExpiresAt.Time) {
			return c, nil
		}
		is.cache.remove(s)
	}
	c, err := is.parse(s)
	if err != nil {
		return nil, err
	}
	if c.Kind != "" {
		return nil, fmt.Errorf("a %s token is not an access token: %w", c.Kind, errdefs.ErrUnauthorized)
	}
	is.cache.add(s, c)
	return c, nil
}

// VerifyRefresh checks a refresh token; the caller compares PasswordFP with
// the user's current password hash.
func (is *Issuer) VerifyRefresh(s string) (*Claims, error) {
	if len(s) > MaxTokenBytes {
		return nil, fmt.Errorf("%d bytes, over %d: %w: %w", len(s), MaxTokenBytes, ErrTooBig, errdefs.ErrUnauthorized)
	}
	c, err := is.parse(s)
	if err != nil {
		return nil, err
	}
	if c.Kind != "refresh" || c.Subject == "" {
		return nil, fmt.Errorf("not a refresh token: %w", errdefs.ErrUnauthorized)
	}
	return c, nil
}

func (is *Issuer) parse(s string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(s, &c, func(*jwt.Token) (any, error) { return &is.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(is.Issuer), jwt.WithAudience(is.Service),
		jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("invalid token: %v: %w", err, errdefs.ErrUnauthorized)
	}
	return &c, nil
}

// ParseScope parses one scope as clients send it: "repository:team/app:pull,push",
// "registry:catalog:*". The resource type may carry a class, as in
// "repository(plugin)", which is dropped.
func ParseScope(s string) (Access, error) {
	i := strings.Index(s, ":")
	j := strings.LastIndex(s, ":")
	if i < 0 || j <= i {
		return Access{}, fmt.Errorf("invalid scope %q: %w", s, errdefs.ErrInvalid)
	}
	typ := s[:i]
	if k := strings.Index(typ, "("); k >= 0 {
		typ = typ[:k]
	}
	a := Access{Type: typ, Name: s[i+1 : j]}
	for _, act := range strings.Split(s[j+1:], ",") {
		if act != "" && !slices.Contains(a.Actions, act) {
			a.Actions = append(a.Actions, act)
		}
	}
	if a.Name == "" || len(a.Actions) == 0 {
		return Access{}, fmt.Errorf("invalid scope %q: %w", s, errdefs.ErrInvalid)
	}
	return a, nil
}
