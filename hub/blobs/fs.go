package blobs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// FS is the filesystem driver. Its layout under the root:
//
//	blobs/<alg>/<first two hex>/<hex>   verified blobs, read-only, never rewritten
//	uploads/<id>/data                    bytes received so far, appended in order
//	uploads/<id>/owner                   who started the upload (a repository)
//
// A blob appears by rename(2) of a fully written, fsynced upload whose digest
// was checked, so a crash leaves either no blob or a whole one. An upload
// survives a crash as the bytes that reached its data file: its size is the
// file's size, and the client resumes from there.
type FS struct {
	root string

	mu      sync.Mutex
	uploads map[string]*uploadState // running hashes of uploads this process appended to
}

// uploadState is kept across requests so that Commit need not read an
// upload again: the running sha256 of its first n bytes.
type uploadState struct {
	lock chan struct{} // one request at a time per upload
	n    int64
	h    hash.Hash
}

// NewFS opens (creating if needed) a filesystem store under root.
func NewFS(root string) (*FS, error) {
	// The store is the hub's alone: private images' blobs and uploads in
	// progress are no other local user's to read. A store made before
	// this is closed up as it opens.
	for _, d := range []string{"blobs", "uploads"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("blob store: %w", err)
		}
		if err := os.Chmod(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("blob store: %w", err)
		}
	}
	return &FS{root: root, uploads: map[string]*uploadState{}}, nil
}

func (s *FS) blobPath(d digest.Digest) (string, error) {
	if _, err := image.ParseDigest(d.String()); err != nil {
		return "", err
	}
	h := d.Encoded()
	return filepath.Join(s.root, "blobs", string(d.Algorithm()), h[:2], h), nil
}

// Stat reports a blob.
func (s *FS) Stat(_ context.Context, d digest.Digest) (Info, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, notFound(d, err)
	}
	return Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open opens a blob for reading; the result is an *os.File.
func (s *FS) Open(_ context.Context, d digest.Digest) (io.ReadSeekCloser, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(d, err)
	}
	return f, nil
}

// Put stores r as blob d after checking its digest.
func (s *FS) Put(ctx context.Context, d digest.Digest, r io.Reader) (Info, error) {
	if _, err := s.blobPath(d); err != nil {
		return Info{}, err
	}
	u, err := s.NewUpload(ctx, "")
	if err != nil {
		return Info{}, err
	}
	defer u.Close()
	if _, err := u.Append(ctx, r); err != nil {
		_ = u.Cancel(ctx)
		return Info{}, err
	}
	return u.Commit(ctx, d)
}

// Delete removes a blob.
func (s *FS) Delete(_ context.Context, d digest.Digest) error {
	p, err := s.blobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return notFound(d, err)
	}
	return nil
}

// Walk visits every blob.
func (s *FS) Walk(ctx context.Context, fn func(Info) error) error {
	base := filepath.Join(s.root, "blobs")
	return filepath.WalkDir(base, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if de.IsDir() {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(base, p)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 3 {
			return nil
		}
		d, err := image.ParseDigest(parts[0] + ":" + parts[2])
		if err != nil {
			return nil // not ours: leave it alone
		}
		fi, err := de.Info()
		if err != nil {
			return nil // removed while walking
		}
		return fn(Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()})
	})
}

func notFound(d digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return fmt.Errorf("blob %s: %w", d, err)
}

// NewUpload starts an upload.
func (s *FS) NewUpload(ctx context.Context, owner string) (Upload, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(b[:])
	dir := filepath.Join(s.root, "uploads", id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("starting upload: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(owner), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting upload: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting upload: %w", err)
	}
	st := &uploadState{lock: make(chan struct{}, 1), h: sha256.New()}
	st.lock <- struct{}{}
	s.mu.Lock()
	s.uploads[id] = st
	s.mu.Unlock()
	now := time.Now()
	return &fsUpload{s: s, id: id, dir: dir, f: f, st: st, info: UploadInfo{ID: id, Owner: owner, StartedAt: now, UpdatedAt: now}}, nil
}

// validID keeps upload IDs from naming paths outside uploads/.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// Resume reopens an upload.
func (s *FS) Resume(ctx context.Context, id string) (Upload, error) {
	if !validID(id) {
		return nil, fmt.Errorf("upload %q: %w", id, errdefs.ErrNotFound)
	}
	dir := filepath.Join(s.root, "uploads", id)
	s.mu.Lock()
	st := s.uploads[id]
	if st == nil {
		st = &uploadState{lock: make(chan struct{}, 1), n: -1}
		s.uploads[id] = st
	}
	s.mu.Unlock()
	select {
	case st.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	info, err := readUploadInfo(dir, id)
	if err != nil {
		s.mu.Lock()
		if s.uploads[id] == st {
			delete(s.uploads, id)
		}
		s.mu.Unlock()
		<-st.lock
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		<-st.lock
		return nil, fmt.Errorf("upload %s: %w", id, errdefs.ErrNotFound)
	}
	return &fsUpload{s: s, id: id, dir: dir, f: f, st: st, info: info}, nil
}

func readUploadInfo(dir, id string) (UploadInfo, error) {
	owner, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		return UploadInfo{}, fmt.Errorf("upload %s: %w", id, errdefs.ErrNotFound)
	}
	oi, _ := os.Stat(filepath.Join(dir, "owner"))
	fi, err := os.Stat(filepath.Join(dir, "data"))
	if err != nil {
		return UploadInfo{}, fmt.Errorf("upload %s: %w", id, errdefs.ErrNotFound)
	}
	return UploadInfo{ID: id, Owner: string(owner), Size: fi.Size(), StartedAt: oi.ModTime(), UpdatedAt: fi.ModTime()}, nil
}

// WalkUploads lists uploads in progress.
func (s *FS) WalkUploads(ctx context.Context, fn func(UploadInfo) error) error {
	des, err := os.ReadDir(filepath.Join(s.root, "uploads"))
	if err != nil {
		return err
	}
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !validID(de.Name()) {
			continue
		}
		info, err := readUploadInfo(filepath.Join(s.root, "uploads", de.Name()), de.Name())
		if err != nil {
			// A directory without owner or data is a start interrupted by a
			// crash: report it as empty and old so it gets cleaned up.
			fi, ierr := de.Info()
			if ierr != nil {
				continue
			}
			info = UploadInfo{ID: de.Name(), StartedAt: fi.ModTime(), UpdatedAt: fi.ModTime()}
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

type fsUpload struct {
	s      *FS
	id     string
	dir    string
	f      *os.File
	st     *uploadState
	info   UploadInfo
	closed bool
}

func (u *fsUpload) Info() UploadInfo { return u.info }

func (u *fsUpload) Append(ctx context.Context, r io.Reader) (int64, error) {
	var w io.Writer = u.f
	hashing := u.st.h != nil && u.st.n == u.info.Size
	if hashing {
		w = io.MultiWriter(u.f, u.st.h)
	}
	n, err := io.Copy(w, r)
	u.info.Size += n
	u.info.UpdatedAt = time.Now()
	if hashing {
		u.st.n = u.info.Size
	}
	if err != nil {
		return n, fmt.Errorf("upload %s: %w", u.id, err)
	}
	return n, ctx.Err()
}

func (u *fsUpload) Commit(ctx context.Context, d digest.Digest) (Info, error) {
	dst, err := u.s.blobPath(d)
	if err != nil {
		return Info{}, err
	}
	data := filepath.Join(u.dir, "data")
	var got digest.Digest
	if d.Algorithm() == digest.SHA256 && u.st.h != nil && u.st.n == u.info.Size {
		got = digest.NewDigest(digest.SHA256, u.st.h)
	} else {
		f, err := os.Open(data)
		if err != nil {
			return Info{}, fmt.Errorf("upload %s: %w", u.id, err)
		}
		got, err = d.Algorithm().FromReader(f)
		f.Close()
		if err != nil {
			return Info{}, fmt.Errorf("upload %s: %w", u.id, err)
		}
	}
	if got != d {
		_ = u.Cancel(ctx)
		return Info{}, fmt.Errorf("upload hashes to %s, not %s: %w", got, d, errdefs.ErrDigestMismatch)
	}
	if err := u.f.Sync(); err != nil {
		return Info{}, fmt.Errorf("upload %s: %w", u.id, err)
	}
	// Read-only, and for the hub's user alone.
	_ = u.f.Chmod(0o400)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Info{}, err
	}
	if err := os.Rename(data, dst); err != nil {
		return Info{}, fmt.Errorf("storing blob %s: %w", d, err)
	}
	syncDir(filepath.Dir(dst))
	_ = u.Cancel(ctx)
	fi, err := os.Stat(dst)
	if err != nil {
		return Info{}, notFound(d, err)
	}
	return Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (u *fsUpload) Cancel(context.Context) error {
	u.s.mu.Lock()
	delete(u.s.uploads, u.id)
	u.s.mu.Unlock()
	u.st.h = nil
	if err := os.RemoveAll(u.dir); err != nil {
		return fmt.Errorf("upload %s: %w", u.id, err)
	}
	return nil
}

func (u *fsUpload) Close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	err := u.f.Close()
	<-u.st.lock
	return err
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}
