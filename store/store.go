// Package store is berth's local store: blobs by digest, one unpacked
// directory per layer, and the metadata (images, tags, containers, leases) in
// SQLite. See paths.go for the layout on disk.
//
// The model is containerd's. Content is verified before it becomes visible
// and written atomically (temp, rename; one syncfs per command makes it
// durable, see durable.go). What keeps content alive is
// the roots (image records and containers) and leases (a pull or load in
// progress); removal is a mark-and-sweep from them (gc.go), never a stored
// reference count, which would drift when a process dies between the
// filesystem and the database. Several berth processes may use one store at
// once: writes to the database are BEGIN IMMEDIATE transactions that never
// span network I/O, and flock files serialise work on one blob or layer.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver keeps the binary static
)

// Store is an open local store.
type Store struct {
	root string
	rw   *sql.DB // BEGIN IMMEDIATE: one writer at a time, across processes
	ro   *sql.DB // deferred transactions for readers
	// rec writes notes a crash may lose (leases): synchronous=NORMAL, so
	// its commits are not fsynced; the next synced commit's fsync of the
	// write-ahead log makes them durable too.
	rec *sql.DB

	unsynced atomic.Bool // content was committed or reused since the last syncfs
	markOnce sync.Once
	markErr  error
	syncs    atomic.Int64 // syncfs calls, for tests
	limits   atomic.Pointer[Limits]
}

// Open opens (creating if needed) the store rooted at root.
func Open(ctx context.Context, root string) (*Store, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{blobsDir, ingestDir, filepath.Join(layersDir, layerTmpDir), locksDir, trashDir, scratchDir, containerDir, volumeDir} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("creating the store at %s: %w", root, err)
		}
	}
	s := &Store{root: root}
	dsn := "file:" + filepath.Join(root, dbFile) +
		"?_pragma=busy_timeout(60000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	if s.rw, err = sql.Open("sqlite", dsn+"&_txlock=immediate"); err != nil {
		return nil, err
	}
	s.rw.SetMaxOpenConns(1) // one writer per process; SQLite serialises the rest
	if s.ro, err = sql.Open("sqlite", dsn); err != nil {
		s.rw.Close()
		return nil, err
	}
	if s.rec, err = sql.Open("sqlite", strings.Replace(dsn, "synchronous(FULL)", "synchronous(NORMAL)", 1)+"&_txlock=immediate"); err != nil {
		s.rw.Close()
		s.ro.Close()
		return nil, err
	}
	s.rec.SetMaxOpenConns(1)
	if err := s.openDB(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening the store database %s: %w", filepath.Join(root, dbFile), err)
	}
	if err := s.recoverUnsynced(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.rec.Close(), s.rw.Close(), s.ro.Close())
}

// Tx is a database transaction over the store's metadata.
type Tx struct {
	tx *sql.Tx
	s  *Store
}

// Update runs fn in a write transaction (BEGIN IMMEDIATE) and commits it if
// fn returns nil. fn must not do network I/O: every other writer waits.
//
// Content committed or reused since the last Update is first made durable
// with one syncfs (durable.go), so metadata never reaches content a power
// cut could take back.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := s.syncContent(); err != nil {
		return err
	}
	return s.inTx(ctx, s.rw, nil, fn)
}

// Record is Update without the syncfs and without a synced commit, for
// notes that make no content reachable from a root (leases, which blobs
// hold a layer, what a registry has): a power cut may lose them, as if
// never written, and content they name with them. It must not be called
// inside another transaction of this store.
func (s *Store) Record(ctx context.Context, fn func(*Tx) error) error {
	return s.inTx(ctx, s.rec, nil, fn)
}

// View runs fn in a read transaction: a consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.inTx(ctx, s.ro, &sql.TxOptions{ReadOnly: true}, fn)
}

func (s *Store) inTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store database: %w", err)
	}
	if err := fn(&Tx{tx: tx, s: s}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store database commit: %w", err)
	}
	return nil
}

var migrations = []string{
	`CREATE TABLE images (
		id TEXT PRIMARY KEY,
		created INTEGER NOT NULL,
		size INTEGER NOT NULL,
		platform TEXT NOT NULL,
		added INTEGER NOT NULL,
		last_tag_time INTEGER NOT NULL DEFAULT 0,
		manifest TEXT NOT NULL DEFAULT '',
		manifest_media_type TEXT NOT NULL DEFAULT ''
	) STRICT;
	CREATE TABLE image_layers (
		image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
		position INTEGER NOT NULL,
		diff_id TEXT NOT NULL,
		chain_id TEXT NOT NULL,
		size INTEGER NOT NULL,
		PRIMARY KEY (image_id, position)
	) STRICT;
	CREATE INDEX image_layers_chain ON image_layers(chain_id);
	CREATE TABLE image_blobs (
		image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
		blob TEXT NOT NULL,
		media_type TEXT NOT NULL,
		PRIMARY KEY (image_id, blob)
	) STRICT;
	CREATE TABLE tags (
		ref TEXT PRIMARY KEY,
		repo TEXT NOT NULL,
		tag TEXT NOT NULL,
		image_id TEXT NOT NULL REFERENCES images(id),
		created INTEGER NOT NULL
	) STRICT;
	CREATE INDEX tags_image ON tags(image_id);
	CREATE TABLE repo_digests (
		repo TEXT NOT NULL,
		digest TEXT NOT NULL,
		image_id TEXT NOT NULL REFERENCES images(id),
		PRIMARY KEY (repo, digest)
	) STRICT;
	CREATE INDEX repo_digests_image ON repo_digests(image_id);
	CREATE TABLE layer_blobs (
		diff_id TEXT NOT NULL,
		blob TEXT NOT NULL,
		media_type TEXT NOT NULL,
		size INTEGER NOT NULL,
		registry TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (diff_id, blob, registry)
	) STRICT;
	CREATE INDEX layer_blobs_blob ON layer_blobs(blob);
	CREATE TABLE containers (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		image_id TEXT NOT NULL,
		image_ref TEXT NOT NULL,
		created INTEGER NOT NULL
	) STRICT;
	CREATE INDEX containers_image ON containers(image_id);
	CREATE TABLE container_layers (
		container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
		position INTEGER NOT NULL,
		chain_id TEXT NOT NULL,
		PRIMARY KEY (container_id, position)
	) STRICT;
	CREATE TABLE leases (
		id TEXT PRIMARY KEY,
		pid INTEGER NOT NULL,
		pid_start INTEGER NOT NULL,
		expires INTEGER NOT NULL
	) STRICT;
	CREATE TABLE lease_refs (
		lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
		kind TEXT NOT NULL,
		key TEXT NOT NULL,
		PRIMARY KEY (lease_id, kind, key)
	) STRICT;`,
}

// openDB makes the first connections and migrates, one process at a time:
// SQLite's busy timeout does not cover a new database's switch to WAL, so
// berths opening a fresh store at once could fail with SQLITE_BUSY.
func (s *Store) openDB(ctx context.Context) error {
	l, err := lockPath(ctx, filepath.Join(s.root, locksDir, "open"))
	if err != nil {
		return err
	}
	defer l.unlock()
	return s.migrate(ctx)
}

// migrate brings the schema to the newest version, tracked in user_version.
// A store already there costs one read: every berth command opens the
// store, and a write transaction is a synced commit.
func (s *Store) migrate(ctx context.Context) error {
	var current int
	if err := s.ro.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&current); err != nil {
		return err
	}
	if current == len(migrations) {
		return nil
	}
	return s.Update(ctx, func(tx *Tx) error {
		var v int
		if err := tx.tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("the store was written by a newer berth (schema %d, this berth knows %d)", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("schema migration %d: %w", i+1, err)
			}
		}
		_, err := tx.tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)))
		return err
	})
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
