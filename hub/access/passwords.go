package access

import (
	"sync"
	"time"
)

// passwordCache remembers recent successful password checks (bcrypt costs
// tens of milliseconds), keyed by user, password and stored hash, so a
// changed password or a deleted user misses.
type passwordCache struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (p *passwordCache) ok(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, found := p.m[key]
	return found && time.Since(at) < 5*time.Minute
}

func (p *passwordCache) add(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) > 10000 {
		p.m = map[string]time.Time{}
	}
	p.m[key] = time.Now()
}

func (p *passwordCache) forget(string) {
	p.mu.Lock()
	p.m = nil
	p.mu.Unlock()
}
