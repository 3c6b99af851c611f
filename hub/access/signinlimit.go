package access

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/names"
)

// signInLimiter throttles password guessing so that a guesser slows down
// themselves and not the account's owner. Failed password checks are
// counted three ways within a window: per client address (across names),
// per account name and client together, and per account name. A run of
// failures from one address refuses that address everything; a run for
// one name from one address refuses that address that name; a run for one
// name from anywhere slows the name down, refusing it to every address
// that has failures of its own on record, while an address with none (the
// owner, signing in from where they always do) passes. Refusals come for
// a back-off period, before the password is looked at: a refused guess
// costs the hub neither bcrypt time nor a database query. Password checks
// under way count against the limits too, so a client firing many guesses
// at once gets no more bcrypt runs than one firing them in turn.
//
// The counts live in this hub process's memory: a restart forgets them,
// and hubs sharing a database count on their own (a client spreading its
// guesses over N hubs gets N times the attempts). Each table keeps at most
// maxTracked keys and forgets the longest idle first, so a spray of names
// or addresses cannot grow memory without end; the price is that a spray
// large enough can make it forget a lock-out early.
type signInLimiter struct {
	window, backoff time.Duration
	log             *slog.Logger
	now             func() time.Time // a test's clock

	mu      sync.Mutex
	names   failureTable // per account name: the slow-down
	pairs   failureTable // per account name and client
	clients failureTable
}

// maxTracked bounds each table: about 250 bytes a key at the longest
// names, so at most some 48 MiB for the three when all are full.
const maxTracked = 1 << 16

// failureTable counts failures per key (an account name, a client address).
type failureTable struct {
	what  string // "name" or "client", for logs
	limit int    // failures that lock a key out; 0 turns the table off
	max   int
	keys  map[string]*list.Element
	idle  list.List // *failures, most recently used first
}

// failures is one key's record.
type failures struct {
	key      string
	n        int       // failures in the current window
	start    time.Time // the window's first failure
	until    time.Time // refused until then; zero when not locked out
	checking int       // password checks under way
	refused  int       // refusals not logged yet
	loggedAt time.Time // when a refusal was last logged
}

func newSignInLimiter(cfg Config, log *slog.Logger) *signInLimiter {
	l := &signInLimiter{window: cfg.SignInWindow, backoff: cfg.SignInBackoff, log: log, now: time.Now}
	l.names = failureTable{what: "account", limit: max(cfg.SignInFailures, 0), max: maxTracked, keys: map[string]*list.Element{}}
	l.pairs = failureTable{what: "name", limit: max(cfg.SignInFailures, 0), max: maxTracked, keys: map[string]*list.Element{}}
	l.clients = failureTable{what: "client", limit: max(cfg.SignInFailuresPerIP, 0), max: maxTracked, keys: map[string]*list.Element{}}
	return l
}

// errThrottled is the kind of a refused attempt.
var errThrottled = errors.New("too many sign-in attempts")

// throttleError refuses a password check. It is also ErrUnauthorized, so a
// caller that does not know it refuses the request as unauthenticated.
type throttleError struct {
	who   string        // "for alice", "from your address"
	retry time.Duration // until the refusal ends
	busy  bool          // refused for checks under way, not for failures
	log   bool          // the caller should log this refusal
	count int           // refusals since the last one logged
}

func (e *throttleError) Error() string {
	if e.busy {
		return fmt.Sprintf("too many sign-in attempts at once %s; try again in %s", e.who, roughly(e.retry))
	}
	return fmt.Sprintf("too many failed sign-in attempts %s; try again in %s", e.who, roughly(e.retry))
}

func (e *throttleError) Unwrap() []error { return []error{errThrottled, errdefs.ErrUnauthorized} }

// retryAfter is the Retry-After value for a refusal: whole seconds, at
// least 1, or false when err is no refusal.
func retryAfter(err error) (string, bool) {
	var te *throttleError
	if !errors.As(err, &te) {
		return "", false
	}
	return strconv.FormatInt(max(int64((te.retry+time.Second-1)/time.Second), 1), 10), true
}

// roughly says a wait the way a person would, rounded up: "14m", "40s".
func roughly(d time.Duration) string {
	if d > time.Minute {
		return strconv.FormatInt(int64((d+time.Minute-1)/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(max(int64((d+time.Second-1)/time.Second), 1), 10) + "s"
}

// check refuses while the name or the client is locked out. It reserves
// nothing: a password found in the cache of good ones is checked without
// bcrypt, but must not get past a lock-out either.
func (l *signInLimiter) check(name, client string) error {
	l.mu.Lock()
	err := l.refusal(name, client, false)
	l.mu.Unlock()
	return l.logged(err, name, client)
}

// begin reserves a password check for name from client, or refuses it;
// done reports how the check went.
func (l *signInLimiter) begin(name, client string) (done func(ok bool), err error) {
	l.mu.Lock()
	if err := l.refusal(name, client, true); err != nil {
		l.mu.Unlock()
		return nil, l.logged(err, name, client)
	}
	now := l.now()
	for _, k := range l.keysOf(name, client) {
		k.t.entry(k.key, now).checking++
	}
	l.mu.Unlock()
	return func(ok bool) { l.end(name, client, ok) }, nil
}

// succeeded clears a name's failures after a password from the cache of
// good ones: a successful sign-in starts the count again. The client's
// count stays, or an attacker could clear it by signing in to an account
// of their own between guesses at others.
func (l *signInLimiter) succeeded(name, client string) {
	if l.names.limit == 0 {
		return
	}
	l.mu.Lock()
	for _, k := range l.keysOf(name, client) {
		if k.t == &l.clients {
			continue
		}
		if f := k.t.lookup(k.key); f != nil {
			l.clear(k.t, f)
			k.t.dropIfIdle(f)
		}
	}
	l.mu.Unlock()
}

type tableKey struct {
	t   *failureTable
	key string
}

// keysOf lists the tables that count an attempt.
func (l *signInLimiter) keysOf(name, client string) []tableKey {
	var out []tableKey
	if l.names.limit > 0 {
		// No account name is longer than 39 bytes: a longer one is a
		// guess at nothing, and need not cost more memory than 64 bytes.
		if len(name) > 64 {
			name = name[:64]
		}
		out = append(out, tableKey{&l.names, name}, tableKey{&l.pairs, name + "\x00" + client})
	}
	if l.clients.limit > 0 && client != "" {
		out = append(out, tableKey{&l.clients, client})
	}
	return out
}

// refusal is why an attempt may not go ahead, or nil. With reserving, the
// checks under way count as failures to come.
func (l *signInLimiter) refusal(name, client string, reserving bool) error {
	now := l.now()
	for _, k := range l.keysOf(name, client) {
		f := k.t.lookup(k.key)
		if f == nil || (k.t == &l.names && !l.hasFailed(name, client, now)) {
			continue
		}
		f.settle(now, l.window)
		var e *throttleError
		switch {
		case now.Before(f.until):
			e = &throttleError{retry: f.until.Sub(now)}
		case reserving && f.n+f.checking >= k.t.limit:
			e = &throttleError{retry: time.Second, busy: true}
		default:
			continue
		}
		e.who = "from your address"
		if k.t != &l.clients {
			e.who = "for " + printable(name)
		}
		f.refused++
		if now.Sub(f.loggedAt) >= time.Minute {
			e.log, e.count, f.loggedAt, f.refused = true, f.refused, now, 0
		}
		return e
	}
	return nil
}

// end records how a reserved check went.
func (l *signInLimiter) end(name, client string, ok bool) {
	l.mu.Lock()
	now := l.now()
	var locked []string
	for _, k := range l.keysOf(name, client) {
		f := k.t.entry(k.key, now)
		f.checking = max(f.checking-1, 0)
		switch {
		case ok && k.t != &l.clients:
			l.clear(k.t, f)
		case !ok && f.fail(now, l.window, l.backoff, k.t.limit):
			locked = append(locked, k.t.what)
		}
		k.t.dropIfIdle(f)
	}
	l.mu.Unlock()
	for _, what := range locked {
		l.log.Warn("sign-in locked out", "by", what, "name", printable(name), "client", client, "backoff", l.backoff)
	}
}

// clear starts a name's count again after its password was right. A
// slow-down of the name stays: the owner signing in must not give the
// addresses guessing at it a fresh run.
func (l *signInLimiter) clear(t *failureTable, f *failures) {
	f.n, f.start = 0, time.Time{}
	if t != &l.names {
		f.until = time.Time{}
	}
}

// hasFailed reports whether client has failures on record, for name or
// any other: only such a client is slowed down with a name, so the owner
// of an account under attack still signs in from where they always do.
func (l *signInLimiter) hasFailed(name, client string, now time.Time) bool {
	for _, k := range l.keysOf(name, client) {
		if k.t == &l.names {
			continue
		}
		if f := k.t.lookup(k.key); f != nil {
			f.settle(now, l.window)
			if f.n > 0 || !f.until.IsZero() {
				return true
			}
		}
	}
	return false
}

// logged logs a refusal at most once a minute per key, with how many went
// unlogged, so a guesser cannot flood the log; it returns err.
func (l *signInLimiter) logged(err error, name, client string) error {
	var te *throttleError
	if errors.As(err, &te) && te.log {
		l.log.Warn("sign-in refused", "name", printable(name), "client", client, "reason", te.Error(), "refusals", te.count)
	}
	return err
}

// settle starts a key afresh once its lock-out or its window has passed.
func (f *failures) settle(now time.Time, window time.Duration) {
	switch {
	case !f.until.IsZero() && !now.Before(f.until):
		f.n, f.start, f.until = 0, time.Time{}, time.Time{}
	case f.until.IsZero() && f.n > 0 && now.Sub(f.start) >= window:
		f.n, f.start = 0, time.Time{}
	}
}

// fail counts a failure and reports whether it locked the key out. The
// count starts again with the lock-out, so once it ends the key has a
// whole run of attempts, not one.
func (f *failures) fail(now time.Time, window, backoff time.Duration, limit int) bool {
	f.settle(now, window)
	if f.n == 0 {
		f.start = now
	}
	f.n++
	if f.n < limit {
		return false
	}
	f.n, f.start, f.until = 0, time.Time{}, now.Add(backoff)
	return true
}

func (t *failureTable) lookup(key string) *failures {
	if e, ok := t.keys[key]; ok {
		return e.Value.(*failures)
	}
	return nil
}

// entry finds or makes key's record and marks it used, forgetting the
// longest idle keys past the table's bound.
func (t *failureTable) entry(key string, now time.Time) *failures {
	if e, ok := t.keys[key]; ok {
		t.idle.MoveToFront(e)
		return e.Value.(*failures)
	}
	for len(t.keys) >= t.max {
		old := t.idle.Back()
		t.idle.Remove(old)
		delete(t.keys, old.Value.(*failures).key)
	}
	f := &failures{key: key, loggedAt: now.Add(-time.Hour)}
	t.keys[key] = t.idle.PushFront(f)
	return f
}

// dropIfIdle forgets a record that holds nothing any more.
func (t *failureTable) dropIfIdle(f *failures) {
	if f.n == 0 && f.checking == 0 && f.until.IsZero() {
		if e, ok := t.keys[f.key]; ok && e.Value == f {
			t.idle.Remove(e)
			delete(t.keys, f.key)
		}
	}
}

// printable is a name as a message may show it: account names as they
// are, anything else quoted and cut short.
func printable(name string) string {
	if names.ValidAccount(name) {
		return name
	}
	if len(name) > 40 {
		name = name[:40] + "…"
	}
	return strconv.Quote(name)
}

// clientKey is the context key under which the web pages pass the address
// of the browser they call the token endpoint for.
type clientKey struct{}

// clientOf is whom a request's attempts count against: the connection's
// remote address (the hub has no trusted-proxy setting, so
// X-Forwarded-For is not believed), or, for the web pages' in-process
// calls, the browser's. IPv6 clients count by /64, the block one host is
// usually given.
func clientOf(r *http.Request) string {
	if c, ok := r.Context().Value(clientKey{}).(string); ok {
		return c
	}
	return ClientAddr(r.RemoteAddr)
}

// ClientAddr is the client a remote address counts as: the address, or
// for IPv6 its /64, the block one host is usually given.
func ClientAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// WithClient is r's context carrying whom r's attempts count against, for
// a handler that calls the token endpoint in process on r's behalf (the web
// pages): sign-in attempts must count against the browser, not the hub.
func WithClient(r *http.Request) context.Context {
	return context.WithValue(r.Context(), clientKey{}, clientOf(r))
}
