package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/berth-dev/berth/errdefs"
)

// HasLayerTar reports whether the layer's tar can be regenerated from its
// files: it has a tar-split record and is not lossy.
func (s *Store) HasLayerTar(chainID digest.Digest) bool {
	_, err := os.Stat(filepath.Join(s.layerPath(chainID), layerTarSplit))
	return err == nil
}

// OpenLayerTar regenerates the layer's uncompressed tar from its files and
// its tar-split record, byte for byte as it arrived. The stream is checked
// against the diff ID as it goes: a file changed since the layer was
// unpacked makes the read that reaches the end (or the changed file) fail
// with errdefs.ErrDigestMismatch. A layer without a record (lossy, or from
// a store older than records) is ErrNotFound: its blob holds the tar.
func (s *Store) OpenLayerTar(ctx context.Context, chainID digest.Digest) (io.ReadCloser, error) {
	info, err := s.Layer(chainID)
	if err != nil {
		return nil, err
	}
	dir := s.layerPath(chainID)
	rf, err := os.Open(filepath.Join(dir, layerTarSplit))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("layer %s has no tar-split record: %w", chainID, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(rf)
	if err != nil {
		rf.Close()
		return nil, fmt.Errorf("layer %s: tar-split record: %w", chainID, err)
	}
	root, err := os.Open(filepath.Join(dir, layerFSDir))
	if err != nil {
		rf.Close()
		return nil, err
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := asm.WriteOutputTarStream(layerFiles{root: root}, storage.NewJSONUnpacker(gz), pw)
		if err != nil {
			err = fmt.Errorf("layer %s: %w (%w)", chainID, err, errdefs.ErrDigestMismatch)
		}
		pw.CloseWithError(err)
	}()
	return &layerTar{ctx: ctx, pr: pr, done: done, closers: []io.Closer{root, rf},
		info: info, hash: info.DiffID.Algorithm().Digester()}, nil
}

// layerTar is a regenerated layer tar being read, hashed on the way.
type layerTar struct {
	ctx     context.Context
	pr      *io.PipeReader
	done    chan struct{}
	closers []io.Closer
	info    LayerInfo
	hash    digest.Digester
	n       int64
}

func (l *layerTar) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := l.pr.Read(p)
	l.hash.Hash().Write(p[:n])
	l.n += int64(n)
	if errors.Is(err, io.EOF) {
		if got := l.hash.Digest(); got != l.info.DiffID || l.n != l.info.DiffSize {
			return n, fmt.Errorf("layer %s: its files give a tar of %d bytes hashing to %s, want %d bytes, diff ID %s: %w",
				l.info.ChainID, l.n, got, l.info.DiffSize, l.info.DiffID, errdefs.ErrDigestMismatch)
		}
	}
	return n, err
}

// Close stops the regeneration and waits for it, then closes its files.
func (l *layerTar) Close() error {
	l.pr.Close()
	<-l.done
	for _, c := range l.closers {
		c.Close()
	}
	return nil
}
