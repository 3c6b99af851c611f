package access

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/token"
)

// epochMaxAge is how long an account's epoch is believed without asking
// the store again: the bound on how long an access token outlives a
// sign-out, a password change or the account's deletion made by another
// process (this hub's own changes, and those the change log brings, are
// forgotten at once). A busy account costs one query per period.
const epochMaxAge = 500 * time.Millisecond

// epochs caches each account's epoch (token.Epoch), so that checking a
// bearer token against its account stays in memory on the registry's
// path.
type epochs struct {
	mu sync.Mutex
	m  map[string]epochEntry
}

type epochEntry struct {
	epoch string // "" for no such account
	at    time.Time
}

func (e *epochs) get(name string, now time.Time) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[name]
	if !ok || now.Sub(v.at) >= epochMaxAge {
		return "", false
	}
	return v.epoch, true
}

func (e *epochs) put(name, epoch string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]epochEntry{}
	}
	// Only accounts that tokens were signed for get here; the stale ones
	// go whenever the map has grown, so it holds about the active ones.
	if len(e.m) >= 1024 {
		for k, v := range e.m {
			if now.Sub(v.at) >= epochMaxAge {
				delete(e.m, k)
			}
		}
	}
	e.m[name] = epochEntry{epoch: epoch, at: now}
}

func (e *epochs) forget(name string) {
	e.mu.Lock()
	delete(e.m, name)
	e.mu.Unlock()
}

// accountEpoch is name's current epoch, "" if there is no such account.
func (ctl *Controller) accountEpoch(ctx context.Context, name string) (string, error) {
	now := time.Now()
	if ep, ok := ctl.epochs.get(name, now); ok {
		return ep, nil
	}
	u, err := ctl.store.User(ctx, name)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		ctl.epochs.put(name, "", now)
		return "", nil
	case err != nil:
		return "", err
	}
	ep := token.Epoch(u.PasswordHash, u.SignOuts)
	ctl.epochs.put(name, ep, now)
	return ep, nil
}

// verifyAccess checks an access token: the signature and expiry, and for
// a user's token that the account is still as it was when the token was
// issued: not deleted, the password not changed, not signed out since.
func (ctl *Controller) verifyAccess(ctx context.Context, s string) (*token.Claims, error) {
	c, err := ctl.tokens.Verify(s)
	if err != nil || c.Subject == "" {
		return c, err
	}
	ep, err := ctl.accountEpoch(ctx, c.Subject)
	switch {
	case err != nil:
		return nil, fmt.Errorf("checking the token's account: %w", err)
	case ep == "":
		return nil, fmt.Errorf("token for an unknown user: %w", errdefs.ErrUnauthorized)
	case ep != c.Epoch:
		return nil, fmt.Errorf("token ended by a sign-out or a password change: %w", errdefs.ErrUnauthorized)
	}
	return c, nil
}
