package hub

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/image"
)

// Operator functions: what `berth hub user|org|repo` and tests call, on a
// metadata store that a running hub may share (it follows the change log).

// ValidateAccountName checks a user or organisation name: 2 to 39 lowercase
// letters, digits and single separators, usable as a repository namespace.
func ValidateAccountName(name string) error {
	if name == image.OfficialNamespace {
		return fmt.Errorf("%q is the official namespace and cannot be an account: %w", name, errdefs.ErrInvalid)
	}
	if !names.ValidAccount(name) || !names.Valid(name) {
		return fmt.Errorf("invalid account name %q: use 2 to 39 lowercase letters, digits and single '.', '_' or '-' between them: %w", name, errdefs.ErrInvalid)
	}
	return nil
}

// AddUser creates an account with a password.
func AddUser(ctx context.Context, m meta.Store, name, password string, admin bool) error {
	if err := ValidateAccountName(name); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return m.CreateUser(ctx, meta.User{Name: name, PasswordHash: hash, Admin: admin})
}

// SetUserPassword changes a password, which also revokes the user's
// refresh tokens (docker login sessions).
func SetUserPassword(ctx context.Context, m meta.Store, name, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return m.SetPassword(ctx, name, hash)
}

// AddOrg creates an organisation.
func AddOrg(ctx context.Context, m meta.Store, name string) error {
	if err := ValidateAccountName(name); err != nil {
		return err
	}
	return m.CreateOrg(ctx, name)
}

// HashPassword hashes a password for storing.
func HashPassword(pw string) (string, error) { return access.HashPassword(pw) }

// ValidateBadge checks a badge name ("" clears it).
func ValidateBadge(b string) error { return meta.ValidateBadge(b) }

// UpdateRepo changes a repository's description, badge, privacy or stars;
// name may be short ("welcome").
func UpdateRepo(ctx context.Context, m meta.Store, name string, u meta.RepoUpdate) (meta.Repo, error) {
	if !names.Valid(name) {
		return meta.Repo{}, fmt.Errorf("invalid repository name %q: %w", name, errdefs.ErrInvalid)
	}
	if u.Badge != nil {
		if err := ValidateBadge(*u.Badge); err != nil {
			return meta.Repo{}, err
		}
	}
	return m.UpdateRepo(ctx, names.Canonical(name), u)
}

// CanonicalName is the stored form of a repository name.
func CanonicalName(name string) string { return names.Canonical(name) }

// DisplayName is the listed form of a repository name.
func DisplayName(name string) string { return names.Display(name) }

// UpdateRepo is the package's UpdateRepo on the hub's own store, whose
// caches see the change at once.
func (h *Hub) UpdateRepo(ctx context.Context, name string, u meta.RepoUpdate) (meta.Repo, error) {
	return UpdateRepo(ctx, h.meta, name, u)
}
