package meta

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// revocationsSchema keeps revoked refresh tokens by their ID (the JWT's
// jti), with the token's expiry so that rows can go once the token would be
// refused as expired anyway.
const revocationsSchema = `
CREATE TABLE IF NOT EXISTS revoked_tokens (
	id TEXT PRIMARY KEY,
	expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_tokens_expires ON revoked_tokens (expires);
CREATE TABLE IF NOT EXISTS signouts (
	user TEXT PRIMARY KEY,
	n INTEGER NOT NULL
);
`

// RevokeToken records a revoked token and prunes the revocations of
// tokens that have expired, in the same transaction: the table only grows
// here, so it stays as small as the number of live revoked tokens without
// a sweeper of its own.
func (s *SQLite) RevokeToken(ctx context.Context, id string, expires time.Time) error {
	err := s.tx(ctx, func(t *sql.Tx) error {
		if _, err := t.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE expires < ?`, now()); err != nil {
			return err
		}
		_, err := t.ExecContext(ctx, `INSERT INTO revoked_tokens (id, expires) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET expires = MAX(expires, excluded.expires)`, id, expires.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", id, err)
	}
	return nil
}

// TokenRevoked reports whether a token ID is revoked.
func (s *SQLite) TokenRevoked(ctx context.Context, id string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM revoked_tokens WHERE id = ?`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("reading token revocations: %w", err)
	}
	return n > 0, nil
}

// SignOut counts a sign-out of the user, in a table of its own so that
// databases made before it need no migration.
func (s *SQLite) SignOut(ctx context.Context, name string) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		var n int
		if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = ?`, name).Scan(&n); err != nil {
			return fmt.Errorf("signing %s out: %w", name, err)
		}
		if n == 0 {
			return fmt.Errorf("signing %s out: user %s: %w", name, name, errdefs.ErrNotFound)
		}
		if _, err := t.ExecContext(ctx, `INSERT INTO signouts (user, n) VALUES (?, 1)
			ON CONFLICT (user) DO UPDATE SET n = n + 1`, name); err != nil {
			return fmt.Errorf("signing %s out: %w", name, err)
		}
		return logChange(ctx, t, ChangeAccount, name)
	})
}
