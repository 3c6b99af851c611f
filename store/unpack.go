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
	bw, err := s.unpackBlobWriter(ctx, u)
	if err != nil {
		return out, err
	}
	if bw != nil {
		defer bw.Close()
	}
	st, err := newLayerStream(r, u, bw)
	if err != nil {
		return out, err
	}
	defer st.dec.Close()

	lw, err := s.NewLayerWriter(ctx)
	if err != nil {
		return out, err
	}
	defer lw.Discard()
	res, err := archive.Apply(ctx, lw.FS(), st.tar, archive.Options{})
	if err != nil {
		return out, fmt.Errorf("layer %s: %w", displayBlob(u), err)
	}
	pending := res.Pending
	defer func() {
		for _, l := range pending { // links FinishLinks did not take over
			l.Close()
		}
	}()
	if err := st.drain(); err != nil {
		return out, fmt.Errorf("layer %s: %w", displayBlob(u), err)
	}
	out.BlobSize, out.Compression = st.rawCount.n, st.comp
	blobDigest, diffID, err := st.verify(u, bw)
	if err != nil {
		return out, err
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
	info := LayerInfo{ChainID: ChainID(u.Parent, diffID), DiffID: diffID, Parent: u.Parent, Size: size, DiffSize: st.counted.n}
	if err := lw.Commit(info); err != nil {
		return out, err
	}
	out.Blob = blobDigest
	out.Layer = info
	return out, nil
}

// unpackBlobWriter is where the blob's bytes go as they pass: the
// caller's writer, a new one when the blob is to be kept (nil if the
// store has it already), or nil.
func (s *Store) unpackBlobWriter(ctx context.Context, u Unpack) (*BlobWriter, error) {
	if u.BlobWriter != nil || !u.KeepBlob {
		return u.BlobWriter, nil
	}
	bw, err := s.NewBlobWriter(ctx, u.Blob, u.Size)
	switch {
	case errors.Is(err, errdefs.ErrAlreadyExists):
		return nil, nil
	case err != nil:
		return nil, err
	}
	if err := bw.Truncate(); err != nil { // the whole stream is coming again
		bw.Close()
		return nil, err
	}
	return bw, nil
}

// layerStream is a layer blob on its way: counted and hashed (or written)
// as it comes, decompressed, and the tar counted and hashed for its diff
// ID.
type layerStream struct {
	raw      *bufio.Reader
	rawCount *countReader
	rawHash  digest.Digester // the blob's digest, when no blob writer hashes it
	comp     image.Compression
	dec      io.ReadCloser
	counted  *countReader
	tar      io.Reader
	diffHash digest.Digester // nil when the diff ID is the blob's digest
}

func newLayerStream(r io.Reader, u Unpack, bw *BlobWriter) (*layerStream, error) {
	st := &layerStream{rawCount: &countReader{r: r}}
	var sink io.Writer
	if bw != nil {
		sink = &skipWriter{w: bw, skip: bw.Offset()}
	} else {
		alg := digest.Canonical
		if u.Blob != "" {
			alg = u.Blob.Algorithm()
		}
		st.rawHash = alg.Digester()
		sink = st.rawHash.Hash()
	}
	st.raw = bufio.NewReaderSize(io.TeeReader(st.rawCount, sink), 1<<20)
	st.comp = image.Uncompressed
	if u.MediaType != "" {
		c, err := image.LayerCompression(u.MediaType)
		if err != nil {
			return nil, err
		}
		st.comp = c
	} else {
		head, _ := st.raw.Peek(4)
		st.comp = image.DetectCompression(head)
	}
	dec, err := archive.Decompress(st.raw, st.comp)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", displayBlob(u), err)
	}
	st.dec = dec
	st.counted = &countReader{r: dec}
	st.tar = st.counted
	diffAlg := digest.Canonical
	if u.DiffID != "" {
		diffAlg = u.DiffID.Algorithm()
	}
	if st.comp != image.Uncompressed || (u.Blob != "" && u.Blob.Algorithm() != diffAlg) || (bw == nil && st.rawHash.Digest().Algorithm() != diffAlg) {
		st.diffHash = diffAlg.Digester()
		st.tar = io.TeeReader(st.counted, st.diffHash.Hash())
	}
	return st, nil
}

// drain reads what follows the tar's end marker, and what follows the
// compressed stream's end: both are part of what is hashed.
func (st *layerStream) drain() error {
	if _, err := io.Copy(io.Discard, st.tar); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, st.raw)
	return err
}

// verify returns the blob's digest and the layer's diff ID, or an error
// if either is not what u wants; a blob kept is then thrown away.
func (st *layerStream) verify(u Unpack, bw *BlobWriter) (blob, diffID digest.Digest, err error) {
	if bw != nil {
		blob = bw.Digest()
	} else {
		blob = st.rawHash.Digest()
	}
	if u.Blob != "" && blob != u.Blob {
		if bw != nil {
			bw.Discard()
		}
		return "", "", fmt.Errorf("layer blob hashed to %s, want %s: %w", blob, u.Blob, errdefs.ErrDigestMismatch)
	}
	diffID = blob
	if st.diffHash != nil {
		diffID = st.diffHash.Digest()
	}
	if u.DiffID != "" && diffID != u.DiffID {
		if bw != nil {
			bw.Discard()
		}
		return "", "", fmt.Errorf("layer %s: uncompressed content hashed to %s, want diff ID %s: %w", displayBlob(u), diffID, u.DiffID, errdefs.ErrDigestMismatch)
	}
	return blob, diffID, nil
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
