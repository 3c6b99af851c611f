package sbom

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
)

// Layer is one layer of an image as the store or the hub holds it.
//
// Open returns the layer's tar stream: uncompressed, or gzip or zstd
// compressed (the compression is detected). Whiteouts are the OCI ones:
// ".wh.NAME" deletes NAME from the layers below, ".wh..wh..opq" hides the
// lower contents of its directory.
type Layer interface {
	DiffID() digest.Digest
	Open(ctx context.Context) (io.ReadCloser, error)
}

// DirLayer is a Layer that is also unpacked on disk as an overlayfs lower
// directory. The inventory walks the directory instead of the tar stream and
// reads candidate files in place. Whiteouts there are 0/0 character devices,
// opaque directories carry the xattr trusted.overlay.opaque=y (or
// user.overlay.opaque=y); ".wh." files are honoured too.
type DirLayer interface {
	Layer
	Dir() string
}
