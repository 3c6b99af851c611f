package vuln

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/vuln/osv"
)

// DB is the offline vulnerability database: OSV advisories in one SQLite
// file (conventionally $BERTH_ROOT/vuln/osv.db).
//
// Each advisory is kept whole as JSON; a side table indexes its affected
// entries by package name, so matching an image reads only the advisories
// that name one of its packages. Advisories carry the source they came from
// ("import" or "osv:<Ecosystem>"), so an update can drop what a mirror no
// longer lists without touching advisories imported by hand.
type DB struct {
	db   *sql.DB
	path string
}

const schema = `
CREATE TABLE IF NOT EXISTS advisories (
	id       TEXT PRIMARY KEY,
	modified TEXT NOT NULL DEFAULT '',
	source   TEXT NOT NULL,
	body     BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS affected (
	advisory  TEXT NOT NULL,
	idx       INTEGER NOT NULL,
	ecosystem TEXT NOT NULL,
	name      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS affected_by_name ON affected(name);
CREATE INDEX IF NOT EXISTS affected_by_advisory ON affected(advisory);
CREATE INDEX IF NOT EXISTS advisories_by_source ON advisories(source);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);`

// DefaultPath is where the database lives under a store root.
func DefaultPath(root string) string { return filepath.Join(root, "vuln", "osv.db") }

// Open opens the database at path, creating it (and its directory) if needed.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	return &DB{db: db, path: path}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Info describes the database's contents.
type Info struct {
	Path       string            `json:"path"`
	Advisories int               `json:"advisories"`
	Sources    map[string]int    `json:"sources"`
	Updated    time.Time         `json:"updated,omitzero"`
	Meta       map[string]string `json:"-"`
}

// Info counts the advisories by source and tells when the last update or
// import finished.
func (d *DB) Info(ctx context.Context) (*Info, error) {
	info := &Info{Path: d.path, Sources: map[string]int{}, Meta: map[string]string{}}
	rows, err := d.db.QueryContext(ctx, `SELECT source, count(*) FROM advisories GROUP BY source`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		info.Sources[s] = n
		info.Advisories += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mrows, err := d.db.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var k, v string
		if err := mrows.Scan(&k, &v); err != nil {
			return nil, err
		}
		info.Meta[k] = v
	}
	if t, err := time.Parse(time.RFC3339, info.Meta["updated"]); err == nil {
		info.Updated = t
	}
	return info, mrows.Err()
}

// writer inserts advisories within one transaction.
type writer struct {
	tx       *sql.Tx
	insAdv   *sql.Stmt
	insAff   *sql.Stmt
	delAff   *sql.Stmt
	delAdv   *sql.Stmt
	imported int
	skipped  int
	progress func(Progress)
	phase    string // the ecosystem being imported, for progress
}

func (d *DB) begin(ctx context.Context) (*writer, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	w := &writer{tx: tx}
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = tx.PrepareContext(ctx, q)
		return s
	}
	w.insAdv = prep(`INSERT INTO advisories(id, modified, source, body) VALUES (?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET modified = excluded.modified, source = excluded.source, body = excluded.body`)
	w.insAff = prep(`INSERT INTO affected(advisory, idx, ecosystem, name) VALUES (?, ?, ?, ?)`)
	w.delAff = prep(`DELETE FROM affected WHERE advisory = ?`)
	w.delAdv = prep(`DELETE FROM advisories WHERE id = ?`)
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	return w, nil
}

// put stores one advisory, replacing any earlier version of it. A withdrawn
// advisory is removed instead: it no longer applies to anything.
func (w *writer) put(ctx context.Context, a *osv.Advisory, body []byte, source string) error {
	if _, err := w.delAff.ExecContext(ctx, a.ID); err != nil {
		return err
	}
	if a.Withdrawn != "" {
		w.skipped++
		_, err := w.delAdv.ExecContext(ctx, a.ID)
		return err
	}
	if _, err := w.insAdv.ExecContext(ctx, a.ID, a.Modified, source, body); err != nil {
		return err
	}
	for i, af := range a.Affected {
		if af.Package.Name == "" {
			continue
		}
		if _, err := w.insAff.ExecContext(ctx, a.ID, i, af.Package.Ecosystem, indexName(af.Package.Ecosystem, af.Package.Name)); err != nil {
			return err
		}
	}
	w.imported++
	if w.progress != nil && (w.imported+w.skipped)%1000 == 0 {
		w.progress(Progress{Phase: "import", Ecosystem: w.phase, Done: int64(w.imported + w.skipped), Total: -1})
	}
	return nil
}

// dropSource deletes every advisory that came from source.
func (w *writer) dropSource(ctx context.Context, source string) error {
	if _, err := w.tx.ExecContext(ctx, `DELETE FROM affected WHERE advisory IN (SELECT id FROM advisories WHERE source = ?)`, source); err != nil {
		return err
	}
	_, err := w.tx.ExecContext(ctx, `DELETE FROM advisories WHERE source = ?`, source)
	return err
}

func (w *writer) commit(ctx context.Context) error {
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('updated', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, time.Now().UTC().Format(time.RFC3339)); err != nil {
		w.tx.Rollback()
		return err
	}
	return w.tx.Commit()
}

// indexName is the form a package name is indexed and looked up in: PyPI
// names are compared in their PEP 503 normalized form.
func indexName(ecosystem, name string) string {
	if ecosystem == "PyPI" || strings.HasPrefix(ecosystem, "PyPI:") {
		return sbom.NormalizePyPI(name)
	}
	return name
}

// entry is one affected entry found for a lookup.
type entry struct {
	advisory string
	idx      int
	eco      string
}

// lookup returns the affected entries that name one of names.
func (d *DB) lookup(ctx context.Context, name string) ([]entry, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT advisory, idx, ecosystem FROM affected WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.advisory, &e.idx, &e.eco); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// advisory loads one advisory.
func (d *DB) advisory(ctx context.Context, id string) (*osv.Advisory, error) {
	var body []byte
	err := d.db.QueryRowContext(ctx, `SELECT body FROM advisories WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("advisory %s: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return osv.Parse(body)
}
