package cache

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/image"
)

// blobCache keeps small blobs (configs, small layers, manifests) in memory,
// by digest. Content never changes under a digest, so entries need no
// invalidation except when the collector deletes the blob.
type blobCache struct {
	mu    sync.RWMutex
	max   int64
	size  int64
	m     map[digest.Digest][]byte
	order []digest.Digest // insertion order, for eviction
}

const smallBlob = 256 << 10

func newBlobCache(max int64) *blobCache { return &blobCache{max: max, m: map[digest.Digest][]byte{}} }

func (c *blobCache) get(d digest.Digest) ([]byte, bool) {
	c.mu.RLock()
	b, ok := c.m[d]
	c.mu.RUnlock()
	return b, ok
}

func (c *blobCache) put(d digest.Digest, b []byte) {
	if int64(len(b)) > smallBlob {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[d]; ok {
		return
	}
	for c.size+int64(len(b)) > c.max && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= int64(len(c.m[old]))
		delete(c.m, old)
	}
	c.m[d] = b
	c.size += int64(len(b))
	c.order = append(c.order, d)
}

func (c *blobCache) remove(d digest.Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.m[d]; ok {
		c.size -= int64(len(b))
		delete(c.m, d)
		for i, o := range c.order {
			if o == d {
				c.order = append(c.order[:i], c.order[i+1:]...)
				break
			}
		}
	}
}

// Blobs is a blobs.Store that keeps small blobs (configs, small layers,
// manifests) in memory. Content never changes under a digest, so only its
// own Delete drops an entry.
type Blobs struct {
	blobs.Store
	small *blobCache
}

// NewBlobs wraps s with up to max bytes of small blobs in memory.
func NewBlobs(s blobs.Store, max int64) *Blobs {
	return &Blobs{Store: s, small: newBlobCache(max)}
}

// SmallBlob is the most bytes a blob may have to be kept in memory.
const SmallBlob = smallBlob

// Cached returns a blob's bytes if they are in memory.
func (b *Blobs) Cached(d digest.Digest) ([]byte, bool) { return b.small.get(d) }

// Keep puts a blob read whole in memory, if it is small.
func (b *Blobs) Keep(d digest.Digest, data []byte) { b.small.put(d, data) }

// Delete removes the blob from the store and from memory.
func (b *Blobs) Delete(ctx context.Context, d digest.Digest) error {
	err := b.Store.Delete(ctx, d)
	if err == nil {
		b.small.remove(d)
	}
	return err
}

// ReadAll reads a whole blob of at most image.MaxManifestSize bytes (a
// manifest, a config) through memory.
func (b *Blobs) ReadAll(ctx context.Context, d digest.Digest) ([]byte, error) {
	if data, ok := b.small.get(d); ok {
		return data, nil
	}
	f, err := b.Store.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, image.MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > image.MaxManifestSize {
		return nil, fmt.Errorf("blob %s is too big to read whole: %w", d, errdefs.ErrInvalid)
	}
	b.small.put(d, data)
	return data, nil
}
