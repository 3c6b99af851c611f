package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
)

// analysesSchema keeps analyses per digest; the trigger drops one when the
// last manifest of its digest is deleted, whoever deletes it.
const analysesSchema = `
CREATE TABLE IF NOT EXISTS analyses (
	digest TEXT PRIMARY KEY,
	status TEXT NOT NULL,
	error TEXT NOT NULL DEFAULT '',
	inventory BLOB,
	vulnerabilities BLOB,
	analysed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS manifests_digest ON manifests (digest);
CREATE TRIGGER IF NOT EXISTS analyses_follow_manifests AFTER DELETE ON manifests
WHEN NOT EXISTS (SELECT 1 FROM manifests WHERE digest = OLD.digest)
BEGIN
	DELETE FROM analyses WHERE digest = OLD.digest;
END;
`

// PutAnalysis records an analysis while some repository holds its manifest.
func (s *SQLite) PutAnalysis(ctx context.Context, a Analysis) error {
	ts := now()
	if !a.Analysed.IsZero() {
		ts = a.Analysed.UnixNano()
	}
	return s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `INSERT INTO analyses (digest, status, error, inventory, vulnerabilities, analysed)
			SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM manifests WHERE digest = ?)
			ON CONFLICT (digest) DO UPDATE SET status = excluded.status, error = excluded.error,
			inventory = excluded.inventory, vulnerabilities = excluded.vulnerabilities, analysed = excluded.analysed`,
			a.Digest.String(), a.Status, a.Error, a.Inventory, a.Vulnerabilities, ts, a.Digest.String())
		if err != nil {
			return fmt.Errorf("storing the analysis of %s: %w", a.Digest, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("analysis of manifest %s, which no repository holds: %w", a.Digest, errdefs.ErrNotFound)
		}
		return nil
	})
}

// Analysis returns a manifest's analysis.
func (s *SQLite) Analysis(ctx context.Context, d digest.Digest) (Analysis, error) {
	a := Analysis{Digest: d}
	var ts int64
	err := s.db.QueryRowContext(ctx, `SELECT status, error, inventory, vulnerabilities, analysed FROM analyses WHERE digest = ?`, d.String()).
		Scan(&a.Status, &a.Error, &a.Inventory, &a.Vulnerabilities, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return Analysis{}, fmt.Errorf("analysis of %s: %w", d, errdefs.ErrNotFound)
	}
	if err != nil {
		return Analysis{}, fmt.Errorf("analysis of %s: %w", d, err)
	}
	a.Analysed = fromNanos(ts)
	return a, nil
}

// Unanalysed lists tagged manifests (and children of tagged indexes) that
// have no analysis.
func (s *SQLite) Unanalysed(ctx context.Context, n int) ([]Manifest, error) {
	if n <= 0 {
		n = -1
	}
	return s.manifests(ctx, `SELECT `+manifestCols+` FROM manifests m
		WHERE NOT EXISTS (SELECT 1 FROM analyses a WHERE a.digest = m.digest)
		AND (EXISTS (SELECT 1 FROM tags t WHERE t.repo = m.repo AND t.digest = m.digest)
			OR EXISTS (SELECT 1 FROM manifest_children c JOIN tags t ON t.repo = c.repo AND t.digest = c.manifest
				WHERE c.repo = m.repo AND c.child = m.digest))
		ORDER BY m.pushed, m.repo LIMIT ?`, n)
}
