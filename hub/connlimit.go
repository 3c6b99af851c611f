package hub

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/berth-dev/berth/hub/access"
)

// connLimit is a listener that holds at most max connections open per
// client address (IPv6 by /64, as the sign-in throttle counts): one client
// opening thousands of connections and sending nothing, or a byte a second,
// would otherwise hold that many goroutines and file descriptors, and
// starve everyone else. A connection past the cap is closed as soon as it
// is accepted, before anything is read from it.
type connLimit struct {
	net.Listener
	max int
	log *slog.Logger

	mu     sync.Mutex
	open   map[string]int
	logged map[string]time.Time // when a refusal was last logged, per client
}

func limitConns(ln net.Listener, max int, log *slog.Logger) net.Listener {
	if max <= 0 {
		return ln
	}
	return &connLimit{Listener: ln, max: max, log: log, open: map[string]int{}, logged: map[string]time.Time{}}
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := access.ClientAddr(c.RemoteAddr().String())
		if l.take(client) {
			return &limitedConn{Conn: c, release: func() { l.release(client) }}, nil
		}
		c.Close()
	}
}

// take counts a connection from client, or reports that it is one too many.
func (l *connLimit) take(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client] >= l.max {
		if now := time.Now(); now.Sub(l.logged[client]) >= time.Minute {
			l.logged[client] = now
			l.log.Warn("connection refused: too many open from one client", "client", client, "max", l.max)
		}
		return false
	}
	l.open[client]++
	return true
}

func (l *connLimit) release(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client]--; l.open[client] <= 0 {
		delete(l.open, client)
		delete(l.logged, client)
	}
}

// limitedConn gives its slot back once, however often it is closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
