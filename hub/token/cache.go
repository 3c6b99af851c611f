package token

import (
	"container/list"
	"crypto/sha256"
	"sync"
)

// verifiedCache keeps verified access tokens' claims, so that a pull's
// requests pay for ES256 verification once. It is bounded by bytes, not
// entries, and forgets the least recently used first: tokens differ in
// size by orders of magnitude, and a count bound let anyone fill memory
// with big anonymous tokens. A token is keyed by its SHA-256, so the key
// costs 32 bytes whatever the token's size; its claims are charged at the
// token's length, which they are proportional to.
type verifiedCache struct {
	mu     sync.Mutex
	budget int
	bytes  int
	keys   map[[32]byte]*list.Element
	lru    list.List // *verified, most recently used first
}

type verified struct {
	key    [32]byte
	claims *Claims
	cost   int
}

// entryOverhead is what an entry costs besides its claims: the map slot,
// the list element and the record.
const entryOverhead = 160

func newVerifiedCache(budget int) *verifiedCache {
	return &verifiedCache{budget: budget, keys: map[[32]byte]*list.Element{}}
}

// get returns the claims verified for s, or nil.
func (c *verifiedCache) get(s string) *Claims {
	k := sha256.Sum256([]byte(s))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.keys[k]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(e)
	return e.Value.(*verified).claims
}

// add keeps claims for s, forgetting the least recently used past the
// budget. A token bigger than the whole budget is not kept.
func (c *verifiedCache) add(s string, claims *Claims) {
	cost := len(s) + entryOverhead
	if cost > c.budget {
		return
	}
	k := sha256.Sum256([]byte(s))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.keys[k]; ok {
		return
	}
	for c.bytes+cost > c.budget {
		c.removeLocked(c.lru.Back())
	}
	c.keys[k] = c.lru.PushFront(&verified{key: k, claims: claims, cost: cost})
	c.bytes += cost
}

// remove forgets s.
func (c *verifiedCache) remove(s string) {
	k := sha256.Sum256([]byte(s))
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.keys[k]; ok {
		c.removeLocked(e)
	}
}

func (c *verifiedCache) removeLocked(e *list.Element) {
	v := e.Value.(*verified)
	c.lru.Remove(e)
	delete(c.keys, v.key)
	c.bytes -= v.cost
}
