package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver: berth builds with CGO_ENABLED=0

	"github.com/berth-dev/berth/errdefs"
)

// SQLite is the metadata store in one SQLite file (WAL mode), safe for
// several processes at once: `berth hub user add` may run beside a serving hub.
type SQLite struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS repos (
	name TEXT PRIMARY KEY,
	private INTEGER NOT NULL DEFAULT 0,
	description TEXT NOT NULL DEFAULT '',
	full_description TEXT NOT NULL DEFAULT '',
	badge TEXT NOT NULL DEFAULT '',
	stars INTEGER NOT NULL DEFAULT 0,
	pulls INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL,
	last_pushed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS manifests (
	repo TEXT NOT NULL,
	digest TEXT NOT NULL,
	media_type TEXT NOT NULL,
	artifact_type TEXT NOT NULL DEFAULT '',
	size INTEGER NOT NULL,
	annotations TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL DEFAULT '',
	children TEXT NOT NULL DEFAULT '',
	pushed INTEGER NOT NULL,
	PRIMARY KEY (repo, digest)
);
CREATE TABLE IF NOT EXISTS manifest_children (
	repo TEXT NOT NULL,
	manifest TEXT NOT NULL,
	child TEXT NOT NULL,
	PRIMARY KEY (repo, manifest, child)
);
CREATE INDEX IF NOT EXISTS manifest_children_child ON manifest_children (child, repo);
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests (repo, subject) WHERE subject != '';
CREATE TABLE IF NOT EXISTS tags (
	repo TEXT NOT NULL,
	name TEXT NOT NULL,
	digest TEXT NOT NULL,
	updated INTEGER NOT NULL,
	PRIMARY KEY (repo, name)
);
CREATE INDEX IF NOT EXISTS tags_digest ON tags (repo, digest);
CREATE TABLE IF NOT EXISTS blob_links (
	repo TEXT NOT NULL,
	digest TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS blob_links_digest ON blob_links (digest);
CREATE TABLE IF NOT EXISTS users (
	name TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	admin INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs (
	name TEXT PRIMARY KEY,
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS org_members (
	org TEXT NOT NULL,
	user TEXT NOT NULL,
	PRIMARY KEY (org, user)
);
CREATE TABLE IF NOT EXISTS stars (
	user TEXT NOT NULL,
	repo TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (user, repo)
);
CREATE TABLE IF NOT EXISTS changes (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL,
	name TEXT NOT NULL,
	at INTEGER NOT NULL
);
`

// OpenSQLite opens or creates the database file at path.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if err := privateFiles(path, path+"-wal", path+"-shm"); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	if _, err := db.ExecContext(ctx, schema+analysesSchema+revocationsSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the schema in %s: %w", path, err)
	}
	return &SQLite{db: db}, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

func now() int64 { return time.Now().UnixNano() }

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE, from the DSN).
func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := fn(t); err != nil {
		_ = t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

func logChange(ctx context.Context, t *sql.Tx, kind, name string) error {
	_, err := t.ExecContext(ctx, `INSERT INTO changes (kind, name, at) VALUES (?, ?, ?)`, kind, name, now())
	return err
}

func ensureRepo(ctx context.Context, t *sql.Tx, name string) error {
	res, err := t.ExecContext(ctx, `INSERT OR IGNORE INTO repos (name, created) VALUES (?, ?)`, name, now())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return logChange(ctx, t, ChangeRepo, name)
	}
	return nil
}

func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, errdefs.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

const repoCols = `name, private, description, full_description, badge, stars, pulls, created, last_pushed`

type scanner interface{ Scan(...any) error }

func scanRepo(r scanner) (Repo, error) {
	var x Repo
	var created, pushed int64
	err := r.Scan(&x.Name, &x.Private, &x.Description, &x.FullDescription, &x.Badge, &x.Stars, &x.Pulls, &created, &pushed)
	x.Created, x.LastPushed = fromNanos(created), fromNanos(pushed)
	return x, err
}

// Repo returns a repository.
func (s *SQLite) Repo(ctx context.Context, name string) (Repo, error) {
	r, err := scanRepo(s.db.QueryRowContext(ctx, `SELECT `+repoCols+` FROM repos WHERE name = ?`, name))
	if err != nil {
		return Repo{}, notFound("repository "+name, err)
	}
	return r, nil
}

// UpdateRepo changes a repository, creating it if needed.
func (s *SQLite) UpdateRepo(ctx context.Context, name string, u RepoUpdate) (Repo, error) {
	err := s.tx(ctx, func(t *sql.Tx) error {
		if err := ensureRepo(ctx, t, name); err != nil {
			return err
		}
		set := func(col string, v any) error {
			_, err := t.ExecContext(ctx, `UPDATE repos SET `+col+` = ? WHERE name = ?`, v, name)
			return err
		}
		var err error
		if u.Private != nil && err == nil {
			err = set("private", *u.Private)
		}
		if u.Description != nil && err == nil {
			err = set("description", *u.Description)
		}
		if u.FullDescription != nil && err == nil {
			err = set("full_description", *u.FullDescription)
		}
		if u.Badge != nil && err == nil {
			err = set("badge", *u.Badge)
		}
		if u.Stars != nil && err == nil {
			err = set("stars", *u.Stars)
		}
		if err != nil {
			return err
		}
		return logChange(ctx, t, ChangeRepo, name)
	})
	if err != nil {
		return Repo{}, fmt.Errorf("updating repository %s: %w", name, err)
	}
	return s.Repo(ctx, name)
}

// ListRepos lists repository names in order.
func (s *SQLite) ListRepos(ctx context.Context, after string, n int) ([]string, error) {
	if n <= 0 {
		n = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM repos WHERE name > ? ORDER BY name LIMIT ?`, after, n)
	if err != nil {
		return nil, fmt.Errorf("listing repositories: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// WalkRepos visits every repository.
func (s *SQLite) WalkRepos(ctx context.Context, fn func(Repo) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+repoCols+` FROM repos ORDER BY name`)
	if err != nil {
		return fmt.Errorf("listing repositories: %w", err)
	}
	var all []Repo
	for rows.Next() {
		r, err := scanRepo(rows)
		if err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// AddPulls adds to pull counts.
func (s *SQLite) AddPulls(ctx context.Context, counts map[string]int64) error {
	if len(counts) == 0 {
		return nil
	}
	return s.tx(ctx, func(t *sql.Tx) error {
		for name, n := range counts {
			if _, err := t.ExecContext(ctx, `UPDATE repos SET pulls = pulls + ? WHERE name = ?`, n, name); err != nil {
				return fmt.Errorf("counting pulls of %s: %w", name, err)
			}
		}
		return nil
	})
}

// PutManifest stores a manifest and its tags.
func (s *SQLite) PutManifest(ctx context.Context, m Manifest, tags ...string) error {
	ann := ""
	if len(m.Annotations) > 0 {
		b, _ := json.Marshal(m.Annotations)
		ann = string(b)
	}
	children := make([]string, len(m.Children))
	for i, c := range m.Children {
		children[i] = c.String()
	}
	ts := now()
	if !m.Pushed.IsZero() {
		ts = m.Pushed.UnixNano()
	}
	err := s.tx(ctx, func(t *sql.Tx) error {
		if err := ensureRepo(ctx, t, m.Repo); err != nil {
			return err
		}
		_, err := t.ExecContext(ctx, `INSERT INTO manifests (repo, digest, media_type, artifact_type, size, annotations, subject, children, pushed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (repo, digest) DO UPDATE SET media_type = excluded.media_type, artifact_type = excluded.artifact_type,
			size = excluded.size, annotations = excluded.annotations, subject = excluded.subject, children = excluded.children, pushed = excluded.pushed`,
			m.Repo, m.Digest.String(), m.MediaType, m.ArtifactType, m.Size, ann, m.Subject.String(), strings.Join(children, " "), ts)
		if err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM manifest_children WHERE repo = ? AND manifest = ?`, m.Repo, m.Digest.String()); err != nil {
			return err
		}
		for _, c := range children {
			if _, err := t.ExecContext(ctx, `INSERT OR IGNORE INTO manifest_children (repo, manifest, child) VALUES (?, ?, ?)`, m.Repo, m.Digest.String(), c); err != nil {
				return err
			}
		}
		for _, tag := range tags {
			if _, err := t.ExecContext(ctx, `INSERT INTO tags (repo, name, digest, updated) VALUES (?, ?, ?, ?)
				ON CONFLICT (repo, name) DO UPDATE SET digest = excluded.digest, updated = excluded.updated`,
				m.Repo, tag, m.Digest.String(), ts); err != nil {
				return err
			}
		}
		if _, err := t.ExecContext(ctx, `UPDATE repos SET last_pushed = ? WHERE name = ?`, ts, m.Repo); err != nil {
			return err
		}
		if err := logChange(ctx, t, ChangeManifests, m.Repo); err != nil {
			return err
		}
		if len(tags) > 0 {
			return logChange(ctx, t, ChangeTags, m.Repo)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing manifest %s in %s: %w", m.Digest, m.Repo, err)
	}
	return nil
}

const manifestCols = `repo, digest, media_type, artifact_type, size, annotations, subject, children, pushed`

func scanManifest(r scanner) (Manifest, error) {
	var m Manifest
	var d, subject, ann, children string
	var pushed int64
	if err := r.Scan(&m.Repo, &d, &m.MediaType, &m.ArtifactType, &m.Size, &ann, &subject, &children, &pushed); err != nil {
		return Manifest{}, err
	}
	m.Digest, m.Subject, m.Pushed = digest.Digest(d), digest.Digest(subject), fromNanos(pushed)
	if ann != "" {
		_ = json.Unmarshal([]byte(ann), &m.Annotations)
	}
	for _, c := range strings.Fields(children) {
		m.Children = append(m.Children, digest.Digest(c))
	}
	return m, nil
}

// Manifest returns a stored manifest.
func (s *SQLite) Manifest(ctx context.Context, repo string, d digest.Digest) (Manifest, error) {
	m, err := scanManifest(s.db.QueryRowContext(ctx, `SELECT `+manifestCols+` FROM manifests WHERE repo = ? AND digest = ?`, repo, d.String()))
	if err != nil {
		return Manifest{}, notFound("manifest "+d.String()+" in "+repo, err)
	}
	return m, nil
}

// DeleteManifest removes a manifest and its tags.
func (s *SQLite) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `DELETE FROM manifests WHERE repo = ? AND digest = ?`, repo, d.String())
		if err != nil {
			return fmt.Errorf("deleting manifest %s: %w", d, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("manifest %s in %s: %w", d, repo, errdefs.ErrNotFound)
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM manifest_children WHERE repo = ? AND manifest = ?`, repo, d.String()); err != nil {
			return err
		}
		res, err = t.ExecContext(ctx, `DELETE FROM tags WHERE repo = ? AND digest = ?`, repo, d.String())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := logChange(ctx, t, ChangeTags, repo); err != nil {
				return err
			}
		}
		return logChange(ctx, t, ChangeManifests, repo)
	})
}

// Referrers lists the manifests that refer to subject.
func (s *SQLite) Referrers(ctx context.Context, repo string, subject digest.Digest) ([]Manifest, error) {
	return s.manifests(ctx, `SELECT `+manifestCols+` FROM manifests WHERE repo = ? AND subject = ? ORDER BY digest`, repo, subject.String())
}

func (s *SQLite) manifests(ctx context.Context, q string, args ...any) ([]Manifest, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing manifests: %w", err)
	}
	defer rows.Close()
	var out []Manifest
	for rows.Next() {
		m, err := scanManifest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Tag resolves a tag.
func (s *SQLite) Tag(ctx context.Context, repo, name string) (Tag, error) {
	t := Tag{Repo: repo, Name: name}
	var d string
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT digest, updated FROM tags WHERE repo = ? AND name = ?`, repo, name).Scan(&d, &updated)
	if err != nil {
		return Tag{}, notFound("tag "+name+" in "+repo, err)
	}
	t.Digest, t.Updated = digest.Digest(d), fromNanos(updated)
	return t, nil
}

// Tags lists tags in order.
func (s *SQLite) Tags(ctx context.Context, repo, after string, n int) ([]Tag, error) {
	if n <= 0 {
		n = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, digest, updated FROM tags WHERE repo = ? AND name > ? ORDER BY name LIMIT ?`, repo, after, n)
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	defer rows.Close()
	out := []Tag{}
	for rows.Next() {
		t := Tag{Repo: repo}
		var d string
		var updated int64
		if err := rows.Scan(&t.Name, &d, &updated); err != nil {
			return nil, err
		}
		t.Digest, t.Updated = digest.Digest(d), fromNanos(updated)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTag removes a tag.
func (s *SQLite) DeleteTag(ctx context.Context, repo, name string) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `DELETE FROM tags WHERE repo = ? AND name = ?`, repo, name)
		if err != nil {
			return fmt.Errorf("deleting tag %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("tag %s in %s: %w", name, repo, errdefs.ErrNotFound)
		}
		return logChange(ctx, t, ChangeTags, repo)
	})
}

// LinkBlob lets repo serve d.
func (s *SQLite) LinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		if err := ensureRepo(ctx, t, repo); err != nil {
			return err
		}
		_, err := t.ExecContext(ctx, `INSERT INTO blob_links (repo, digest, created) VALUES (?, ?, ?)
			ON CONFLICT (repo, digest) DO UPDATE SET created = excluded.created`, repo, d.String(), now())
		if err != nil {
			return fmt.Errorf("linking blob %s to %s: %w", d, repo, err)
		}
		return nil
	})
}

// BlobLink returns a link.
func (s *SQLite) BlobLink(ctx context.Context, repo string, d digest.Digest) (BlobLink, error) {
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT created FROM blob_links WHERE repo = ? AND digest = ?`, repo, d.String()).Scan(&created)
	if err != nil {
		return BlobLink{}, notFound("blob "+d.String()+" in "+repo, err)
	}
	return BlobLink{Repo: repo, Digest: d, Created: fromNanos(created)}, nil
}

// UnlinkBlob removes a link.
func (s *SQLite) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `DELETE FROM blob_links WHERE repo = ? AND digest = ?`, repo, d.String())
		if err != nil {
			return fmt.Errorf("unlinking blob %s: %w", d, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("blob %s in %s: %w", d, repo, errdefs.ErrNotFound)
		}
		return logChange(ctx, t, ChangeBlobs, repo)
	})
}

// ChildReferenced reports whether a manifest names d.
func (s *SQLite) ChildReferenced(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	var n int
	var err error
	if repo == "" {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM manifest_children WHERE child = ? LIMIT 1)`, d.String()).Scan(&n)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM manifest_children WHERE child = ? AND repo = ? LIMIT 1)`, d.String(), repo).Scan(&n)
	}
	return n > 0, err
}

// BlobLinked reports whether any repository links d.
func (s *SQLite) BlobLinked(ctx context.Context, d digest.Digest) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM blob_links WHERE digest = ? LIMIT 1)`, d.String()).Scan(&n)
	return n > 0, err
}

// WalkManifests visits every manifest.
func (s *SQLite) WalkManifests(ctx context.Context, fn func(Manifest) error) error {
	all, err := s.manifests(ctx, `SELECT `+manifestCols+` FROM manifests`)
	if err != nil {
		return err
	}
	for _, m := range all {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// WalkTags visits every tag.
func (s *SQLite) WalkTags(ctx context.Context, fn func(Tag) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT repo, name, digest, updated FROM tags`)
	if err != nil {
		return fmt.Errorf("listing tags: %w", err)
	}
	var all []Tag
	for rows.Next() {
		var t Tag
		var d string
		var updated int64
		if err := rows.Scan(&t.Repo, &t.Name, &d, &updated); err != nil {
			rows.Close()
			return err
		}
		t.Digest, t.Updated = digest.Digest(d), fromNanos(updated)
		all = append(all, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range all {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

// WalkBlobLinks visits every blob link.
func (s *SQLite) WalkBlobLinks(ctx context.Context, fn func(BlobLink) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT repo, digest, created FROM blob_links`)
	if err != nil {
		return fmt.Errorf("listing blob links: %w", err)
	}
	var all []BlobLink
	for rows.Next() {
		var l BlobLink
		var d string
		var created int64
		if err := rows.Scan(&l.Repo, &d, &created); err != nil {
			rows.Close()
			return err
		}
		l.Digest, l.Created = digest.Digest(d), fromNanos(created)
		all = append(all, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range all {
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

// privateFiles makes the database file, before SQLite opens it, readable
// by its owner alone, and its journals if they exist: it holds password
// hashes. SQLite gives the journals it creates the database file's mode,
// so creating the file 0600 first is what keeps them private too.
func privateFiles(db string, journals ...string) error {
	f, err := os.OpenFile(db, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", db, err)
	}
	f.Close()
	for _, p := range append([]string{db}, journals...) {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("making %s private: %w", p, err)
		}
	}
	return nil
}
