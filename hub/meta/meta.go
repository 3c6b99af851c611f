// Package meta is the hub's metadata: repositories and what they hold
// (manifests, tags, blob links), accounts and organisations, stars, and a
// change log that lets every hub process keep its in-memory caches fresh.
//
// Content bytes live in hub/blobs; here are only the facts about them. A
// repository sees a blob only through a link (made by an upload, a mount or
// a manifest that names it), which is how one global blob store serves many
// repositories without leaking content between them.
//
// Implementations: SQLite here; PostgreSQL later. Both run metatest.
package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
)

// Badges a repository may carry.
const (
	BadgeNone              = ""
	BadgeOfficial          = "official"
	BadgeVerifiedPublisher = "verified_publisher"
	BadgeOpenSource        = "open_source"
)

// ValidateBadge checks a badge name ("" clears it).
func ValidateBadge(b string) error {
	switch b {
	case BadgeNone, BadgeOfficial, BadgeVerifiedPublisher, BadgeOpenSource:
		return nil
	}
	return fmt.Errorf("invalid badge %q: use official, verified_publisher, open_source or none: %w", b, errdefs.ErrInvalid)
}

// Repo is a repository's record. Name is canonical: "library/welcome",
// never the short "welcome".
type Repo struct {
	Name            string
	Private         bool
	Description     string
	FullDescription string // markdown
	Badge           string
	Stars           int64
	Pulls           int64
	Created         time.Time
	LastPushed      time.Time // zero until the first manifest arrives
}

// RepoUpdate changes the fields that are set.
type RepoUpdate struct {
	Private         *bool
	Description     *string
	FullDescription *string
	Badge           *string
	Stars           *int64
}

// Manifest is a manifest or index stored in a repository. Its bytes are the
// blob of the same digest.
type Manifest struct {
	Repo         string
	Digest       digest.Digest
	MediaType    string
	ArtifactType string // for the referrers API: artifactType, else the config's media type
	Size         int64
	Annotations  map[string]string
	Subject      digest.Digest   // "" when the manifest refers to nothing
	Children     []digest.Digest // config and layers, or an index's manifests
	Pushed       time.Time
}

// Tag points a name at a manifest in one repository.
type Tag struct {
	Repo    string
	Name    string
	Digest  digest.Digest
	Updated time.Time
}

// BlobLink says a repository may serve a blob.
type BlobLink struct {
	Repo    string
	Digest  digest.Digest
	Created time.Time
}

// User is an account. PasswordHash is a bcrypt hash. Admins are the
// operators: they own the official namespace and may do anything.
type User struct {
	Name         string
	PasswordHash string
	Admin        bool
	Created      time.Time
	// SignOuts counts the user's sign-outs: with the password hash it is
	// the account's epoch, which access tokens carry and must still match.
	SignOuts int64
}

// Change is one entry of the change log: Kind says what changed ("repo",
// "tags", "manifests", "blobs", "account"), Name which repository or account.
type Change struct {
	Seq  int64
	Kind string
	Name string
}

// Change kinds.
const (
	ChangeRepo      = "repo"
	ChangeTags      = "tags"
	ChangeManifests = "manifests"
	ChangeBlobs     = "blobs"
	ChangeAccount   = "account"
)

// Repos reads and describes repositories.
type Repos interface {
	// Repo returns a repository or an error wrapping errdefs.ErrNotFound.
	Repo(ctx context.Context, name string) (Repo, error)
	// UpdateRepo changes a repository, creating it if needed.
	UpdateRepo(ctx context.Context, name string, u RepoUpdate) (Repo, error)
	// ListRepos returns up to n names after the name after, sorted.
	ListRepos(ctx context.Context, after string, n int) ([]string, error)
	// WalkRepos visits every repository.
	WalkRepos(ctx context.Context, fn func(Repo) error) error
	// AddPulls adds pull counts, batched by the caller.
	AddPulls(ctx context.Context, counts map[string]int64) error
}

// Content records what repositories hold.
type Content interface {
	// PutManifest stores a manifest (replacing its children if it exists)
	// and points the tags at it, creating the repository if needed.
	PutManifest(ctx context.Context, m Manifest, tags ...string) error
	// Manifest returns a stored manifest or ErrNotFound.
	Manifest(ctx context.Context, repo string, d digest.Digest) (Manifest, error)
	// DeleteManifest removes a manifest and every tag pointing at it.
	DeleteManifest(ctx context.Context, repo string, d digest.Digest) error
	// Referrers lists the manifests whose subject is d.
	Referrers(ctx context.Context, repo string, subject digest.Digest) ([]Manifest, error)
	// Tag resolves a tag or returns ErrNotFound.
	Tag(ctx context.Context, repo, name string) (Tag, error)
	// Tags lists up to n tags after the tag after, sorted by name; n <= 0
	// means all.
	Tags(ctx context.Context, repo, after string, n int) ([]Tag, error)
	// DeleteTag removes a tag or returns ErrNotFound.
	DeleteTag(ctx context.Context, repo, name string) error
	// LinkBlob lets a repository serve a blob, creating the repository if
	// needed. Linking again refreshes the link's time.
	LinkBlob(ctx context.Context, repo string, d digest.Digest) error
	// BlobLink returns a link or ErrNotFound.
	BlobLink(ctx context.Context, repo string, d digest.Digest) (BlobLink, error)
	// UnlinkBlob removes a link or returns ErrNotFound.
	UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error
	// ChildReferenced reports whether a manifest in repo ("" for any
	// repository) names d as its config, a layer or an index child.
	ChildReferenced(ctx context.Context, repo string, d digest.Digest) (bool, error)
	// BlobLinked reports whether any repository links d.
	BlobLinked(ctx context.Context, d digest.Digest) (bool, error)
}

// Walker lists everything, for the garbage collector.
type Walker interface {
	WalkManifests(ctx context.Context, fn func(Manifest) error) error
	WalkTags(ctx context.Context, fn func(Tag) error) error
	WalkBlobLinks(ctx context.Context, fn func(BlobLink) error) error
}

// Accounts holds users and organisations. Users and organisations share one
// namespace: a name is one or the other.
type Accounts interface {
	// CreateUser fails with errdefs.ErrAlreadyExists for a taken name.
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)
	SetPassword(ctx context.Context, name, hash string) error
	// SignOut counts a sign-out of the user, ending the access tokens
	// issued before it; errdefs.ErrNotFound for no such user.
	SignOut(ctx context.Context, name string) error
	DeleteUser(ctx context.Context, name string) error
	// CreateOrg fails with errdefs.ErrAlreadyExists for a taken name.
	CreateOrg(ctx context.Context, name string) error
	// Orgs lists organisation names.
	Orgs(ctx context.Context) ([]string, error)
	IsOrg(ctx context.Context, name string) (bool, error)
	DeleteOrg(ctx context.Context, name string) error
	AddMember(ctx context.Context, org, user string) error
	RemoveMember(ctx context.Context, org, user string) error
	Members(ctx context.Context, org string) ([]string, error)
	// UserOrgs lists the organisations a user belongs to.
	UserOrgs(ctx context.Context, user string) ([]string, error)
}

// Revocations remembers refresh tokens revoked before they expire (a web
// sign-out), so a copied token stops working in every hub process that
// shares the store. Only refresh grants ask: access tokens are short-lived
// and checked in memory, so no registry request waits on this table.
type Revocations interface {
	// RevokeToken records a token ID as revoked until the token expires.
	// Revoking twice is not an error. Revocations of tokens that have
	// expired may be forgotten: the token is refused as expired anyway.
	RevokeToken(ctx context.Context, id string, expires time.Time) error
	// TokenRevoked reports whether a token ID is revoked.
	TokenRevoked(ctx context.Context, id string) (bool, error)
}

// Stars records who starred what; Repo.Stars follows.
type Stars interface {
	// Star is idempotent: starring twice counts once.
	Star(ctx context.Context, user, repo string) error
	Unstar(ctx context.Context, user, repo string) error
	Starred(ctx context.Context, user, repo string) (bool, error)
	// StarredBy lists the repositories a user starred.
	StarredBy(ctx context.Context, user string) ([]string, error)
}

// ChangeLog lists changes after a sequence number, oldest first.
type ChangeLog interface {
	Changes(ctx context.Context, after int64, n int) ([]Change, error)
	LastChange(ctx context.Context) (int64, error)
	// TrimChanges forgets changes older than the given time.
	TrimChanges(ctx context.Context, before time.Time) error
}

// Store is everything the hub needs from its metadata.
type Store interface {
	Repos
	Content
	Walker
	Accounts
	Revocations
	Stars
	ChangeLog
	Analyses
	Close() error
}
