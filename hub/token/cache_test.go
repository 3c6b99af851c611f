package token

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestVerifyCacheBoundedByBytes: verified tokens are kept by their size,
// not their number, so big tokens cannot fill memory: 80 tokens of 9,000
// scopes each (about 700 KB) leave the heap within a few MB of where it was
// (issue 16, finding 2: each added about 2.7 MB, to 27 GB at the old limit).
func TestVerifyCacheBoundedByBytes(t *testing.T) {
	is := newIssuer(t, time.Minute)
	access := make([]Access, 9000)
	for i := range access {
		access[i] = Access{Type: "repository", Name: fmt.Sprintf("x/y%d", i), Actions: []string{"pull"}}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for range 80 {
		s, _, err := is.issue("", "", access)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = is.Verify(s)
	}
	grew := int64(heap()) - int64(before)
	runtime.KeepAlive(is)
	if grew > 20<<20 {
		t.Errorf("the heap grew by %d MB verifying 80 big tokens", grew>>20)
	}
}

// TestVerifyCacheKeepsRecent: the cache forgets the least recently used
// token first, and keeps one in use.
func TestVerifyCacheKeepsRecent(t *testing.T) {
	c := newVerifiedCache(3000)
	claims := &Claims{}
	for i := range 10 {
		c.add(fmt.Sprintf("%0999d", i), claims)
		c.get(fmt.Sprintf("%0999d", 0))
	}
	if c.get(fmt.Sprintf("%0999d", 0)) == nil {
		t.Error("the token used all along was forgotten")
	}
	if c.get(fmt.Sprintf("%0999d", 5)) != nil {
		t.Error("an old token was kept past the budget")
	}
	if c.bytes > 3000 {
		t.Errorf("%d bytes kept, budget 3000", c.bytes)
	}
}
