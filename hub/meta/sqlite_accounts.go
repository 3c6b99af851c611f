package meta

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

func nameTaken(ctx context.Context, t *sql.Tx, name string) error {
	var n int
	if err := t.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM users WHERE name = ?) + (SELECT COUNT(*) FROM orgs WHERE name = ?)`, name, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("the name %s is taken: %w", name, errdefs.ErrAlreadyExists)
	}
	return nil
}

// CreateUser adds an account.
func (s *SQLite) CreateUser(ctx context.Context, u User) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		if err := nameTaken(ctx, t, u.Name); err != nil {
			return err
		}
		created := now()
		if !u.Created.IsZero() {
			created = u.Created.UnixNano()
		}
		if _, err := t.ExecContext(ctx, `INSERT INTO users (name, password_hash, admin, created) VALUES (?, ?, ?, ?)`, u.Name, u.PasswordHash, u.Admin, created); err != nil {
			return fmt.Errorf("creating user %s: %w", u.Name, err)
		}
		return logChange(ctx, t, ChangeAccount, u.Name)
	})
}

// User returns an account.
func (s *SQLite) User(ctx context.Context, name string) (User, error) {
	u := User{Name: name}
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT password_hash, admin, created, COALESCE((SELECT n FROM signouts WHERE user = users.name), 0)
		FROM users WHERE name = ?`, name).Scan(&u.PasswordHash, &u.Admin, &created, &u.SignOuts)
	if err != nil {
		return User{}, notFound("user "+name, err)
	}
	u.Created = fromNanos(created)
	return u, nil
}

// Users lists accounts.
func (s *SQLite) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, password_hash, admin, created FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.Name, &u.PasswordHash, &u.Admin, &created); err != nil {
			return nil, err
		}
		u.Created = fromNanos(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *SQLite) execOne(ctx context.Context, what, kind, name, q string, args ...any) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%s: %w", what, errdefs.ErrNotFound)
		}
		return logChange(ctx, t, kind, name)
	})
}

// SetPassword replaces a user's password hash.
func (s *SQLite) SetPassword(ctx context.Context, name, hash string) error {
	return s.execOne(ctx, "user "+name, ChangeAccount, name, `UPDATE users SET password_hash = ? WHERE name = ?`, hash, name)
}

// DeleteUser removes an account, its memberships and its stars.
func (s *SQLite) DeleteUser(ctx context.Context, name string) error {
	err := s.execOne(ctx, "user "+name, ChangeAccount, name, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(t *sql.Tx) error {
		if _, err := t.ExecContext(ctx, `DELETE FROM org_members WHERE user = ?`, name); err != nil {
			return err
		}
		// A name made again later starts a new count; its tokens differ
		// anyway, by the password hash.
		if _, err := t.ExecContext(ctx, `DELETE FROM signouts WHERE user = ?`, name); err != nil {
			return err
		}
		rows, err := t.QueryContext(ctx, `SELECT repo FROM stars WHERE user = ?`, name)
		if err != nil {
			return err
		}
		var repos []string
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				rows.Close()
				return err
			}
			repos = append(repos, r)
		}
		rows.Close()
		for _, r := range repos {
			if err := unstar(ctx, t, name, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateOrg adds an organisation.
func (s *SQLite) CreateOrg(ctx context.Context, name string) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		if err := nameTaken(ctx, t, name); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `INSERT INTO orgs (name, created) VALUES (?, ?)`, name, now()); err != nil {
			return fmt.Errorf("creating organisation %s: %w", name, err)
		}
		return logChange(ctx, t, ChangeAccount, name)
	})
}

// Orgs lists organisations.
func (s *SQLite) Orgs(ctx context.Context) ([]string, error) {
	return s.strings(ctx, `SELECT name FROM orgs ORDER BY name`)
}

// IsOrg reports whether name is an organisation.
func (s *SQLite) IsOrg(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orgs WHERE name = ?`, name).Scan(&n)
	return n > 0, err
}

// DeleteOrg removes an organisation and its memberships.
func (s *SQLite) DeleteOrg(ctx context.Context, name string) error {
	if err := s.execOne(ctx, "organisation "+name, ChangeAccount, name, `DELETE FROM orgs WHERE name = ?`, name); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM org_members WHERE org = ?`, name)
	return err
}

// AddMember adds a user to an organisation.
func (s *SQLite) AddMember(ctx context.Context, org, user string) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		var n int
		if err := t.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM orgs WHERE name = ?) * (SELECT COUNT(*) FROM users WHERE name = ?)`, org, user).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("organisation %s or user %s: %w", org, user, errdefs.ErrNotFound)
		}
		if _, err := t.ExecContext(ctx, `INSERT OR IGNORE INTO org_members (org, user) VALUES (?, ?)`, org, user); err != nil {
			return err
		}
		return logChange(ctx, t, ChangeAccount, user)
	})
}

// RemoveMember removes a user from an organisation.
func (s *SQLite) RemoveMember(ctx context.Context, org, user string) error {
	return s.execOne(ctx, "member "+user+" of "+org, ChangeAccount, user, `DELETE FROM org_members WHERE org = ? AND user = ?`, org, user)
}

// Members lists an organisation's members.
func (s *SQLite) Members(ctx context.Context, org string) ([]string, error) {
	return s.strings(ctx, `SELECT user FROM org_members WHERE org = ? ORDER BY user`, org)
}

// UserOrgs lists a user's organisations.
func (s *SQLite) UserOrgs(ctx context.Context, user string) ([]string, error) {
	return s.strings(ctx, `SELECT org FROM org_members WHERE user = ? ORDER BY org`, user)
}

func (s *SQLite) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Star records a star once.
func (s *SQLite) Star(ctx context.Context, user, repo string) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		var n int
		if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM repos WHERE name = ?`, repo).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("repository %s: %w", repo, errdefs.ErrNotFound)
		}
		res, err := t.ExecContext(ctx, `INSERT OR IGNORE INTO stars (user, repo, created) VALUES (?, ?, ?)`, user, repo, now())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if _, err := t.ExecContext(ctx, `UPDATE repos SET stars = stars + 1 WHERE name = ?`, repo); err != nil {
			return err
		}
		return logChange(ctx, t, ChangeRepo, repo)
	})
}

// Unstar removes a star; unstarring what was not starred is not an error.
func (s *SQLite) Unstar(ctx context.Context, user, repo string) error {
	return s.tx(ctx, func(t *sql.Tx) error { return unstar(ctx, t, user, repo) })
}

func unstar(ctx context.Context, t *sql.Tx, user, repo string) error {
	res, err := t.ExecContext(ctx, `DELETE FROM stars WHERE user = ? AND repo = ?`, user, repo)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if _, err := t.ExecContext(ctx, `UPDATE repos SET stars = MAX(stars - 1, 0) WHERE name = ?`, repo); err != nil {
		return err
	}
	return logChange(ctx, t, ChangeRepo, repo)
}

// Starred reports whether user starred repo.
func (s *SQLite) Starred(ctx context.Context, user, repo string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM stars WHERE user = ? AND repo = ?`, user, repo).Scan(&n)
	return n > 0, err
}

// StarredBy lists what user starred.
func (s *SQLite) StarredBy(ctx context.Context, user string) ([]string, error) {
	return s.strings(ctx, `SELECT repo FROM stars WHERE user = ? ORDER BY repo`, user)
}

// Changes lists changes after seq.
func (s *SQLite) Changes(ctx context.Context, after int64, n int) ([]Change, error) {
	if n <= 0 {
		n = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, kind, name FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, n)
	if err != nil {
		return nil, fmt.Errorf("reading changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		if err := rows.Scan(&c.Seq, &c.Kind, &c.Name); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// LastChange returns the newest sequence number, 0 for none.
func (s *SQLite) LastChange(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM changes`).Scan(&seq)
	return seq.Int64, err
}

// TrimChanges forgets old changes, keeping the newest so LastChange holds.
func (s *SQLite) TrimChanges(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM changes WHERE at < ? AND seq < (SELECT MAX(seq) FROM changes)`, before.UnixNano())
	return err
}
