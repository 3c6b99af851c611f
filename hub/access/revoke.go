package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/token"
)

// serveRevoke is OAuth2 token revocation (RFC 7009): POST /token/revoke
// with token=REFRESH_TOKEN ends that refresh token before its expiry, in
// every hub sharing the database. The web pages' sign-out calls it, since
// their session cookie is a refresh token. Holding the token is the
// credential, as the token endpoint takes it; and, as the RFC says, a
// token that is invalid already is no error.
func (ctl *Controller) ServeRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "a form with token= is needed")
		return
	}
	err := ctl.revokeRefresh(r.Context(), r.PostForm.Get("token"))
	switch {
	case errors.Is(err, errdefs.ErrUnsupported):
		oauthError(w, http.StatusBadRequest, "unsupported_token_type", err.Error())
	case err != nil:
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
	default:
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}

// revokeRefresh records a refresh token as revoked until it expires, and
// counts a sign-out of its user, which ends the access tokens issued to
// them before (see verifyAccess). Access tokens are not revoked one by
// one: they are checked in memory on every registry request.
func (ctl *Controller) revokeRefresh(ctx context.Context, s string) error {
	c, err := ctl.tokens.VerifyRefresh(s)
	if err != nil {
		if _, aerr := ctl.tokens.Verify(s); aerr == nil {
			return fmt.Errorf("access tokens expire on their own and are not revoked: %w", errdefs.ErrUnsupported)
		}
		return nil
	}
	if c.ID == "" || c.ExpiresAt == nil {
		return nil
	}
	if err := ctl.store.RevokeToken(ctx, c.ID, c.ExpiresAt.Time); err != nil {
		return err
	}
	defer ctl.epochs.forget(c.Subject)
	if err := ctl.store.SignOut(ctx, c.Subject); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return nil
}

// refreshRevoked reports whether a refresh token was revoked: one indexed
// query, made only for refresh grants, never for registry requests.
func (ctl *Controller) refreshRevoked(ctx context.Context, c *token.Claims) error {
	revoked, err := ctl.store.TokenRevoked(ctx, c.ID)
	if err != nil {
		return err
	}
	if revoked {
		return fmt.Errorf("refresh token revoked: %w", errdefs.ErrUnauthorized)
	}
	return nil
}

// checkRefresh accepts a refresh token that was not revoked and whose user
// still has the password it was issued under.
func (ctl *Controller) checkRefresh(ctx context.Context, s string) (meta.User, error) {
	c, err := ctl.tokens.VerifyRefresh(s)
	if err != nil {
		return meta.User{}, err
	}
	if err := ctl.refreshRevoked(ctx, c); err != nil {
		return meta.User{}, err
	}
	u, err := ctl.store.User(ctx, c.Subject)
	if err != nil || token.Fingerprint(u.PasswordHash) != c.PasswordFP {
		return meta.User{}, fmt.Errorf("refresh token revoked: %w", errdefs.ErrUnauthorized)
	}
	return u, nil
}
