package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// LayerInfo describes an unpacked layer; it is stored as layers/<hex>/layer.json.
type LayerInfo struct {
	ChainID digest.Digest `json:"chain_id"`
	DiffID  digest.Digest `json:"diff_id"`
	Parent  digest.Digest `json:"parent,omitempty"` // chain ID of the layer below
	Size    int64         `json:"size"`             // as Docker counts it on overlay2
	// DiffSize is the length of the uncompressed layer tar, needed to write
	// it into an archive without decompressing it twice.
	DiffSize int64 `json:"diff_size"`
	// Lossy says why the layer's files cannot give its tar back byte for
	// byte (GNU sparse entries, a path twice): such a layer has no
	// tar-split record and keeps its blob. "" for most layers.
	Lossy string `json:"lossy,omitempty"`
}

// Layer reads the description of an unpacked layer, or ErrNotFound.
func (s *Store) Layer(chainID digest.Digest) (LayerInfo, error) {
	var info LayerInfo
	b, err := os.ReadFile(filepath.Join(s.layerPath(chainID), layerMeta))
	if errors.Is(err, fs.ErrNotExist) {
		return info, fmt.Errorf("layer %s: %w", chainID, errdefs.ErrNotFound)
	}
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("layer %s: corrupt %s: %w", chainID, layerMeta, err)
	}
	return info, nil
}

// HasLayer reports whether the layer is unpacked in the store.
// A layer found may be reused without being written: the next Update
// syncs first, as it may not be durable yet.
func (s *Store) HasLayer(chainID digest.Digest) bool {
	_, err := os.Stat(filepath.Join(s.layerPath(chainID), layerMeta))
	if err == nil {
		s.unsynced.Store(true)
	}
	return err == nil
}

// LayerWriter is a layer being unpacked in layers/tmp. It becomes visible
// under its chain ID only through Commit.
type LayerWriter struct {
	s    *Store
	dir  string
	lock *fileLock
}

// NewLayerWriter makes an empty directory to unpack one layer into.
func (s *Store) NewLayerWriter(ctx context.Context) (*LayerWriter, error) {
	tmp := filepath.Join(s.root, layersDir, layerTmpDir)
	dir := filepath.Join(tmp, randomHex())
	l, err := lockPath(ctx, dir+".lock")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, layerFSDir), 0o755); err != nil {
		l.unlock()
		return nil, err
	}
	return &LayerWriter{s: s, dir: dir, lock: l}, nil
}

// FS is the directory to unpack the layer's files into.
func (w *LayerWriter) FS() string { return filepath.Join(w.dir, layerFSDir) }

// Commit renames the layer to its chain ID; the next Update makes it
// durable (one syncfs for the whole command) before it records anything.
// If another process committed the same layer first, this copy is dropped
// and Commit succeeds.
func (w *LayerWriter) Commit(info LayerInfo) error {
	defer w.Discard()
	if want := ChainID(info.Parent, info.DiffID); info.ChainID != want {
		return fmt.Errorf("layer %s: chain ID does not follow from parent %s and diff ID %s: %w", info.ChainID, info.Parent, info.DiffID, errdefs.ErrInvalid)
	}
	meta, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.dir, layerMeta), meta, 0o600); err != nil {
		return err
	}
	if err := w.s.contentCommitting(); err != nil {
		return err
	}
	target := w.s.layerPath(info.ChainID)
	if err := os.Rename(w.dir, target); err != nil {
		if w.s.HasLayer(info.ChainID) {
			return nil
		}
		return fmt.Errorf("storing layer %s: %w", info.ChainID, err)
	}
	w.dir = ""
	return nil
}

// Discard removes the unpacked files unless they were committed.
func (w *LayerWriter) Discard() {
	if w.dir != "" {
		removeAll(w.dir)
		w.dir = ""
	}
	if w.lock != nil {
		os.Remove(w.lock.f.Name())
		w.lock.unlock()
		w.lock = nil
	}
}

// ChainID is the chain ID of a layer with diffID on top of the layer parent.
func ChainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return identity.ChainID([]digest.Digest{parent, diffID})
}

// LockLayer serialises unpacking one layer across processes, so that two
// pulls of one image unpack it once. Unlock with the returned function.
func (s *Store) LockLayer(ctx context.Context, chainID digest.Digest) (func(), error) {
	l, err := s.lockName(ctx, "layer-"+chainID.Encoded())
	if err != nil {
		return nil, err
	}
	return l.release, nil
}

func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// removeAll removes a tree that may contain read-only directories.
func removeAll(path string) {
	if err := os.RemoveAll(path); err == nil {
		return
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(path)
}
