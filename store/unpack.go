package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// Unpack describes one layer blob to unpack.
type Unpack struct {
	// MediaType of the blob; "" to tell the compression from its first bytes.
	MediaType string
	// Blob is the digest the bytes must hash to, or "" to compute it.
	Blob digest.Digest
	// Size of the blob, or -1 when unknown.
	Size int64
	// DiffID the uncompressed tar must hash to, or "" to compute it (import).
	DiffID digest.Digest
	// Parent is the chain ID of the layer below, "" for a base layer.
	Parent digest.Digest
	// BlobWriter, when set, receives the bytes as they pass (for pulls that
	// keep the blob). Its first Offset() bytes are the first bytes of the
	// stream, already in the ingest from an earlier attempt, and are not
	// written again.
	BlobWriter *BlobWriter
	// KeepBlob stores the blob when no BlobWriter is given.
	KeepBlob bool
	// ParentReady waits until the parent layers are committed. It is called
	// only for a layer with hardlinks to files in lower layers, which are
	// copied in once those layers exist. nil means they already exist.
	ParentReady func(context.Context) error
}

// Unpacked is what Unpack stored.
type Unpacked struct {
	Blob        digest.Digest
	BlobSize    int64
	Compression image.Compression
	Layer       LayerInfo
}

// Unpack streams a layer blob through hashing, decompression and extraction
// at once, then makes the layer visible under its chain ID only if both the
// blob digest and the diff ID match. On any error nothing becomes visible.
func (s *Store) Unpack(ctx context.Context, r io.Reader, u Unpack) (Unpacked, error) {
	var out Unpacked
	bw := u.BlobWriter
	if bw == nil && u.KeepBlob {
		var err error
		bw, err = s.NewBlobWriter(ctx, u.Blob, u.Size)
		switch {
		case errors.Is(err, errdefs.ErrAlreadyExists):
			bw = nil
		case err != nil:
			return out, err
		default:
			if err := bw.Truncate(); err != nil { // the whole stream is coming again
				bw.Close()
				return out, err
			}
		}
	}
	if bw != nil {
		defer bw.Close()
	}

	var rawHash digest.Digester
	var sink io.Writer
	if bw != nil {
		sink = &skipWriter{w: bw, skip: bw.Offset()}
	} else {
		alg := digest.Canonical
		if u.Blob != "" {
			alg = u.Blob.Algorithm()
		}
		rawHash = alg.Digester()
		sink = rawHash.Hash()
	}
	rawCount := &countReader{r: r}
	raw := bufio.NewReaderSize(io.TeeReader(rawCount, sink), 1<<20)
	comp := image.Uncompressed
	if u.MediaType != "" {
		c, err := image.LayerCompression(u.MediaType)
		if err != nil {
			return out, err
		}
		comp = c
	} else {
		head, _ := raw.Peek(4)
		comp = image.DetectCompression(head)
	}
	dec, err := archive.Decompress(raw, comp)
	if err != nil {
		return out, fmt.Errorf("layer %s: %w", displayBlob(u), err)
	}
	defer dec.Close()
	counted := &countReader{r: dec}
	var tarStream io.Reader = counted
	var diffHash digest.Digester
	diffAlg := digest.Canonical
	if u.DiffID != "" {
		diffAlg = u.DiffID.Algorithm()
	}
	if comp != image.Uncompressed || (u.Blob != "" && u.Blob.Algorithm() != diffAlg) || (bw == nil && rawHash.Digest().Algorithm() != diffAlg) {
		diffHash = diffAlg.Digester()
		tarStream = io.TeeReader(counted, diffHash.Hash())
	}

	lw, err := s.NewLayerWriter(ctx)
	if err != nil {
		return out, err
	}
	defer lw.Discard()
	res, err := archive.Apply(ctx, lw.FS(), tarStream, archive.Options{})
	if err != nil {
		return out, fmt.Errorf("layer %s: %w", displayBlob(u), err)
	}
	pending := res.Pending
	defer func() {
		for _, l := range pending { // links FinishLinks did not take over
			l.Close()
		}
	}()
	// Hash what follows the tar's end marker too: it is part of the diff.
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return out, fmt.Errorf("layer %s: %w", displayBlob(u), err)
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return out, fmt.Errorf("layer %s: %w", displayBlob(u), err)
	}

	var blobDigest digest.Digest
	if bw != nil {
		blobDigest = bw.Digest()
	} else {
		blobDigest = rawHash.Digest()
	}
	out.BlobSize, out.Compression = rawCount.n, comp
	if u.Blob != "" && blobDigest != u.Blob {
		if bw != nil {
			bw.Discard()
		}
		return out, fmt.Errorf("layer blob hashed to %s, want %s: %w", blobDigest, u.Blob, errdefs.ErrDigestMismatch)
	}
	diffID := blobDigest
	if diffHash != nil {
		diffID = diffHash.Digest()
	}
	if u.DiffID != "" && diffID != u.DiffID {
		if bw != nil {
			bw.Discard()
		}
		return out, fmt.Errorf("layer %s: uncompressed content hashed to %s, want diff ID %s: %w", displayBlob(u), diffID, u.DiffID, errdefs.ErrDigestMismatch)
	}

	size := res.Size
	if len(pending) > 0 {
		if u.ParentReady != nil {
			if err := u.ParentReady(ctx); err != nil {
				return out, err
			}
		}
		delta, err := archive.FinishLinks(ctx, lw.FS(), pending, s.lowerLookup(u.Parent))
		pending = nil
		if err != nil {
			return out, fmt.Errorf("layer %s: %w", displayBlob(u), err)
		}
		size += delta
	}
	if bw != nil {
		if _, err := bw.Commit(ctx); err != nil {
			return out, err
		}
	}
	info := LayerInfo{ChainID: ChainID(u.Parent, diffID), DiffID: diffID, Parent: u.Parent, Size: size, DiffSize: counted.n}
	if err := lw.Commit(info); err != nil {
		return out, err
	}
	out.Blob = blobDigest
	out.Layer = info
	return out, nil
}

func displayBlob(u Unpack) string {
	switch {
	case u.Blob != "":
		return u.Blob.String()
	case u.DiffID != "":
		return u.DiffID.String()
	}
	return "from the input"
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// skipWriter passes writes on after dropping the first skip bytes.
type skipWriter struct {
	w    io.Writer
	skip int64
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip > 0 {
		if int64(len(p)) <= s.skip {
			s.skip -= int64(len(p))
			return n, nil
		}
		p = p[s.skip:]
		s.skip = 0
	}
	if _, err := s.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// lowerLookup finds a path in the layers under chainID, top first, as
// overlayfs would show it, for hardlinks to files of lower layers. It never
// follows a symlink: a path that crosses one is not found.
func (s *Store) lowerLookup(chainID digest.Digest) func(string) (string, error) {
	return func(name string) (string, error) {
		parts := strings.Split(strings.Trim(filepath.Clean("/"+name), "/"), "/")
		for c := chainID; c != ""; {
			info, err := s.Layer(c)
			if err != nil {
				return "", err
			}
			p, found, hidden := lookupIn(s.LayerDir(c), parts)
			if found {
				return p, nil
			}
			if hidden {
				break
			}
			c = info.Parent
		}
		return "", fmt.Errorf("%s in the lower layers: %w", name, fs.ErrNotExist)
	}
}

// lookupIn looks for parts in one layer dir. hidden reports that this layer
// whites the path out or makes a parent opaque, hiding the layers below.
func lookupIn(dir string, parts []string) (path string, found, hidden bool) {
	p := dir
	for i, part := range parts {
		p = filepath.Join(p, part)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return "", false, false
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			return "", false, true // a whiteout
		}
		if i == len(parts)-1 {
			return p, true, false
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", false, st.Mode&unix.S_IFMT != unix.S_IFLNK
		}
		if isOpaque(p) && i < len(parts)-1 {
			// The rest of the path is not in this layer, and the opaque
			// directory hides the layers below.
			if _, err := os.Lstat(filepath.Join(p, parts[i+1])); err != nil {
				return "", false, true
			}
		}
	}
	return "", false, false
}

func isOpaque(dir string) bool {
	var buf [1]byte
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf[:])
	return err == nil && n == 1 && buf[0] == 'y'
}
