package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/retry"
)

// ingestRace is how often an ingest a sweep removed under a writer is made
// again: without delay, since the sweep is done by then.
var ingestRace = retry.Policy{Attempts: 6}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// OpenBlob opens a verified blob for reading.
func (s *Store) OpenBlob(d digest.Digest) (*os.File, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %v: %w", d, err, errdefs.ErrInvalid)
	}
	f, err := os.Open(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return f, err
}

// ReadBlob reads a small blob (a manifest, a config) whole, refusing one
// larger than limit.
func (s *Store) ReadBlob(d digest.Digest, limit int64) ([]byte, error) {
	f, err := s.OpenBlob(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("blob %s is larger than %d bytes: %w", d, limit, errdefs.ErrInvalid)
	}
	return b, nil
}

// BlobSize is the size of a stored blob, or ErrNotFound.
func (s *Store) BlobSize(d digest.Digest) (int64, error) {
	fi, err := os.Stat(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// HasBlob reports whether the blob is in the store.
// A blob found may be reused without being written: the next Update
// syncs first, as it may not be durable yet.
func (s *Store) HasBlob(d digest.Digest) bool {
	_, err := os.Stat(s.blobPath(d))
	if err == nil {
		s.unsynced.Store(true)
	}
	return err == nil
}

// BlobWriter writes one blob into the ingest area. Nothing is visible under
// blobs/ until Commit has checked the digest and made the bytes durable.
type BlobWriter struct {
	s        *Store
	dir      string
	f        *os.File
	lock     *fileLock
	digester digest.Digester
	expected digest.Digest
	size     int64 // expected size, or -1
	offset   int64
	keep     bool // an ingest named by its expected digest survives Close for resuming
}

// NewBlobWriter starts writing a blob. With an expected digest the ingest is
// named by it and locked, so two processes fetching the same blob do not both
// write it, and bytes already there from an interrupted attempt are kept:
// Offset tells where to resume. If the blob is already in the store it
// returns ErrAlreadyExists. size is the expected size, or -1.
func (s *Store) NewBlobWriter(ctx context.Context, expected digest.Digest, size int64) (*BlobWriter, error) {
	w := &BlobWriter{s: s, expected: expected, size: size}
	if expected == "" {
		w.dir = filepath.Join(s.root, ingestDir, "tmp-"+randomHex())
		if err := os.Mkdir(w.dir, 0o700); err != nil {
			return nil, err
		}
		l, err := lockPath(ctx, filepath.Join(w.dir, "lock"))
		if err != nil {
			os.RemoveAll(w.dir)
			return nil, err
		}
		w.lock = l
		w.digester = digest.Canonical.Digester()
		w.f, err = os.OpenFile(filepath.Join(w.dir, "data"), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			w.abandon()
			return nil, err
		}
		return w, nil
	}
	if err := expected.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %v: %w", expected, err, errdefs.ErrInvalid)
	}
	if s.HasBlob(expected) {
		return nil, fmt.Errorf("blob %s: %w", expected, errdefs.ErrAlreadyExists)
	}
	w.keep = true
	w.dir = s.ingestPath(expected)
	// A sweep may remove an abandoned ingest between its making and its
	// locking: it is made again, at once.
	err := retry.DoIf(ctx, ingestRace, isNotExist, func(int) error {
		if err := os.MkdirAll(w.dir, 0o700); err != nil {
			return err
		}
		l, err := lockPath(ctx, filepath.Join(w.dir, "lock"))
		if err != nil {
			return err
		}
		w.lock = l
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.HasBlob(expected) { // another process finished it while we waited
		w.lock.unlock()
		return nil, fmt.Errorf("blob %s: %w", expected, errdefs.ErrAlreadyExists)
	}
	w.digester = expected.Algorithm().Digester()
	w.f, err = os.OpenFile(filepath.Join(w.dir, "data"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		w.lock.unlock()
		return nil, err
	}
	// Rehash what an earlier attempt left, so the download can resume there.
	n, err := io.Copy(w.digester.Hash(), w.f)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("reading the partial blob %s: %w", expected, err)
	}
	if size >= 0 && n > size {
		if err := w.Truncate(); err != nil {
			w.Close()
			return nil, err
		}
		n = 0
	}
	w.offset = n
	return w, nil
}

// Offset is how many bytes the blob has so far.
func (w *BlobWriter) Offset() int64 { return w.offset }

// Truncate throws away what was written, to start over.
func (w *BlobWriter) Truncate() error {
	if err := w.f.Truncate(0); err != nil {
		return err
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	w.offset = 0
	w.digester = w.digester.Digest().Algorithm().Digester()
	return nil
}

func (w *BlobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.digester.Hash().Write(p[:n])
	w.offset += int64(n)
	if err == nil && w.size >= 0 && w.offset > w.size {
		return n, fmt.Errorf("blob %s: more than the %d bytes announced: %w", w.expected, w.size, errdefs.ErrDigestMismatch)
	}
	return n, err
}

// Digest is the digest of what was written so far.
func (w *BlobWriter) Digest() digest.Digest { return w.digester.Digest() }

// Commit verifies the blob and moves it into the store; the next Update
// makes it durable before it records anything.
// A mismatch discards the bytes (they can never become right) and wraps
// errdefs.ErrDigestMismatch. Committing a blob that another process stored
// meanwhile succeeds.
func (w *BlobWriter) Commit(ctx context.Context) (digest.Digest, error) {
	defer w.Close()
	got := w.digester.Digest()
	if w.size >= 0 && w.offset != w.size {
		w.discard()
		return "", fmt.Errorf("blob %s: got %d bytes, want %d: %w", w.expected, w.offset, w.size, errdefs.ErrDigestMismatch)
	}
	if w.expected != "" && got != w.expected {
		w.discard()
		return "", fmt.Errorf("blob content hashed to %s, want %s: %w", got, w.expected, errdefs.ErrDigestMismatch)
	}
	if err := w.f.Chmod(0o444); err != nil {
		return "", err
	}
	target := w.s.blobPath(got)
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return "", err
	}
	// Durable at the next Update's syncfs, before any record reaches it.
	if err := w.s.contentCommitting(); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(w.dir, "data"), target); err != nil {
		return "", fmt.Errorf("storing blob %s: %w", got, err)
	}
	w.keep = false
	return got, nil
}

// Close releases the writer. An ingest named by its digest keeps its bytes
// for a later attempt to resume; others are removed.
func (w *BlobWriter) Close() error {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if !w.keep {
		w.abandon()
		return nil
	}
	w.lock.unlock()
	return nil
}

// Discard removes the ingest and releases the writer.
func (w *BlobWriter) Discard() {
	w.discard()
	w.Close()
}

func (w *BlobWriter) discard() { w.keep = false }

// abandon removes the ingest directory while still holding its lock.
func (w *BlobWriter) abandon() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.dir != "" {
		os.RemoveAll(w.dir)
		w.dir = ""
	}
	w.lock.unlock()
}

// WriteBlob stores small content (a config, a manifest) and returns its digest.
func (s *Store) WriteBlob(ctx context.Context, data []byte) (digest.Digest, error) {
	d := digest.FromBytes(data)
	w, err := s.NewBlobWriter(ctx, d, int64(len(data)))
	if errors.Is(err, errdefs.ErrAlreadyExists) {
		return d, nil
	}
	if err != nil {
		return "", err
	}
	if err := w.Truncate(); err != nil {
		w.Close()
		return "", err
	}
	if _, err := w.Write(data); err != nil {
		w.Discard()
		return "", err
	}
	return w.Commit(ctx)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

func randomHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
