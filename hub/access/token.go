package access

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/errcode"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/hub/token"
)

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

// tokenRequest is what a token request asks for, in either flow.
type tokenRequest struct {
	id      Identity
	pwHash  string // the password hash a refresh token is bound to
	epoch   string // the account's epoch, which an access token carries
	scopes  []string
	offline bool // a refresh token is wanted
	service string
	oauth   bool
}

// ServeToken is the token endpoint: GET with optional Basic credentials
// (`docker login`, pulls), POST with grant_type=password or refresh_token
// (the OAuth2 flow Docker uses once it holds a refresh token).
func (ctl *Controller) ServeToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	var ok bool
	switch r.Method {
	case http.MethodGet:
		req, ok = ctl.tokenGet(w, r)
	case http.MethodPost:
		req, ok = ctl.tokenPost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		tokenError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "use GET or POST")
		return
	}
	if !ok {
		return
	}
	if req.service != "" && req.service != ctl.cfg.Service {
		tokenError(w, http.StatusBadRequest, "UNSUPPORTED", fmt.Sprintf("this hub serves %q, not %q", ctl.cfg.Service, req.service))
		return
	}
	access, granted, err := ctl.grantScopes(req.id, req.scopes)
	if err != nil {
		tokenError(w, http.StatusBadRequest, "UNSUPPORTED", err.Error())
		return
	}
	tok, issued, err := ctl.tokens.IssueAt(req.id.User, req.epoch, access)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	resp := tokenResponse{AccessToken: tok, ExpiresIn: int(ctl.cfg.TokenTTL / time.Second), IssuedAt: issued.UTC().Format(time.RFC3339)}
	if !req.oauth {
		resp.Token = tok
	} else {
		resp.Scope = strings.Join(granted, " ")
	}
	if req.offline && req.id.User != "" {
		if resp.RefreshToken, err = ctl.tokens.IssueRefresh(req.id.User, req.pwHash, ctl.cfg.RefreshTTL); err != nil {
			tokenError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// tokenGet reads a GET request, checking Basic credentials if it has
// them; on false it has answered.
func (ctl *Controller) tokenGet(w http.ResponseWriter, r *http.Request) (tokenRequest, bool) {
	q := r.URL.Query()
	req := tokenRequest{scopes: q["scope"], service: q.Get("service"), offline: q.Get("offline_token") == "true"}
	if name, pw, ok := r.BasicAuth(); ok {
		ctx := r.Context()
		u, err := ctl.checkPassword(ctx, clientOf(r), name, pw)
		if err != nil {
			tokenFailure(w, err)
			return req, false
		}
		req.pwHash, req.epoch = u.PasswordHash, token.Epoch(u.PasswordHash, u.SignOuts)
		if req.id, err = ctl.loadIdentity(ctx, u); err != nil {
			tokenError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return req, false
		}
	} else if r.Header.Get("Authorization") != "" {
		tokenError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unsupported authorization scheme")
		return req, false
	}
	return req, true
}

// tokenPost reads an OAuth2 password or refresh-token grant; on false it
// has answered.
func (ctl *Controller) tokenPost(w http.ResponseWriter, r *http.Request) (tokenRequest, bool) {
	req := tokenRequest{oauth: true}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return req, false
	}
	ctx, f := r.Context(), r.PostForm
	req.service, req.scopes = f.Get("service"), strings.Fields(f.Get("scope"))
	req.offline = f.Get("access_type") == "offline"
	var u meta.User
	var err error
	switch f.Get("grant_type") {
	case "password":
		u, err = ctl.checkPassword(ctx, clientOf(r), f.Get("username"), f.Get("password"))
	case "refresh_token":
		u, err = ctl.checkRefresh(ctx, f.Get("refresh_token"))
		req.offline = true
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
		return req, false
	}
	if err != nil {
		grantFailure(w, err)
		return req, false
	}
	req.pwHash, req.epoch = u.PasswordHash, token.Epoch(u.PasswordHash, u.SignOuts)
	if req.id, err = ctl.loadIdentity(ctx, u); err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return req, false
	}
	return req, true
}

// MaxScopes is how many scopes one token request may ask for, however
// packed: a push asks for two or three, a multi-repository copy for
// dozens. More would make a token no verifier takes (token.MaxTokenBytes),
// and 9,000 of them a 683 KB one.
const MaxScopes = 100

// grantScopes parses the requested scopes and keeps what id gets of each,
// as token grants and as the OAuth2 scope string's parts.
func (ctl *Controller) grantScopes(id Identity, scopes []string) ([]token.Access, []string, error) {
	var access []token.Access
	var granted []string
	n := 0
	for _, s := range scopes {
		for one := range strings.FieldsSeq(s) {
			if n++; n > MaxScopes {
				return nil, nil, fmt.Errorf("more than %d scopes in one request: %w", MaxScopes, errdefs.ErrInvalid)
			}
			a, err := token.ParseScope(one)
			if err != nil {
				return nil, nil, err
			}
			if a.Type == "repository" {
				a.Name = names.Canonical(a.Name)
			}
			acts := ctl.grant(id, a)
			if len(acts) == 0 {
				continue
			}
			access = append(access, token.Access{Type: a.Type, Name: a.Name, Actions: acts})
			granted = append(granted, a.Type+":"+a.Name+":"+strings.Join(acts, ","))
		}
	}
	return access, granted, nil
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
