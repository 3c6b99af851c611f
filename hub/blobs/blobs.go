// Package blobs stores the hub's content by digest: layers, configs and
// manifests, each written once and verified before anyone can read it.
//
// A Store is a flat, global content-addressed space. Which repository may see
// a blob is the metadata's business (hub/meta), not the store's: two
// repositories sharing a layer share one stored blob.
//
// Uploads are the only way content enters a store from outside: bytes are
// appended to an upload, possibly across many requests and a restart of the
// process, and become a blob only when Commit has checked their digest.
// Every driver (the filesystem here, S3 later) runs the suite in blobstest.
package blobs

import (
	"context"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Info describes a stored blob. ModTime is when it was written, which the
// garbage collector's grace period counts from.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time
}

// Store holds verified blobs by digest.
type Store interface {
	// Stat reports a blob, or an error wrapping errdefs.ErrNotFound.
	Stat(ctx context.Context, d digest.Digest) (Info, error)
	// Open returns the blob's content. The filesystem driver returns an
	// *os.File so that net/http can serve it with sendfile.
	Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error)
	// Put stores r as blob d, failing with errdefs.ErrDigestMismatch (and
	// storing nothing) when r does not hash to d.
	Put(ctx context.Context, d digest.Digest, r io.Reader) (Info, error)
	// Delete removes a blob; deleting a missing blob is ErrNotFound.
	Delete(ctx context.Context, d digest.Digest) error
	// Walk calls fn for every stored blob, in no particular order.
	Walk(ctx context.Context, fn func(Info) error) error
	Uploader
}

// Uploader starts and resumes uploads.
type Uploader interface {
	// NewUpload starts an empty upload; owner is recorded with it (the hub
	// keeps the repository name there) and reported back by Resume.
	NewUpload(ctx context.Context, owner string) (Upload, error)
	// Resume reopens an upload by ID, also after a restart, or fails with
	// errdefs.ErrNotFound.
	Resume(ctx context.Context, id string) (Upload, error)
	// WalkUploads lists the uploads in progress, for cleaning up stale ones.
	WalkUploads(ctx context.Context, fn func(UploadInfo) error) error
}

// UploadInfo describes an upload in progress.
type UploadInfo struct {
	ID        string
	Owner     string
	Size      int64
	StartedAt time.Time
	UpdatedAt time.Time
}

// Upload is content on its way to becoming a blob. An Upload value is used
// by one request at a time; Close releases it without ending the upload.
type Upload interface {
	Info() UploadInfo
	// Append adds r's bytes at the end and returns how many it added. On
	// error the upload keeps what was fully written.
	Append(ctx context.Context, r io.Reader) (int64, error)
	// Commit checks that the content hashes to d and makes it blob d; the
	// upload is gone afterwards. On a mismatch the upload is removed too
	// and the error wraps errdefs.ErrDigestMismatch.
	Commit(ctx context.Context, d digest.Digest) (Info, error)
	// Cancel removes the upload and its content.
	Cancel(ctx context.Context) error
	Close() error
}
