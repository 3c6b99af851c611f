package access

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// fakeClock is a limiter's time, moved by the test.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func quietLog() *slog.Logger             { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func limiterFor(perName, perIP int) *signInLimiter {
	return newSignInLimiter(Config{SignInFailures: perName, SignInFailuresPerIP: perIP, SignInWindow: 15 * time.Minute, SignInBackoff: 15 * time.Minute}, quietLog())
}

// attempt runs one password check through the limiter as checkPassword
// does, and returns its refusal.
func attempt(l *signInLimiter, name, client string, ok bool) error {
	if err := l.check(name, client); err != nil {
		return err
	}
	done, err := l.begin(name, client)
	if err != nil {
		return err
	}
	done(ok)
	return nil
}

// TestSignInLimiterLocksANameOut: a run of failures for a name locks
// that name out for the address they came from, and slows the name down
// for every address with failures of its own; an address without any
// passes. (It used to lock the name out for every address: issue 16,
// finding 5, anyone could lock any account.)
func TestSignInLimiterLocksANameOut(t *testing.T) {
	clock := newClock()
	l := limiterFor(5, 0)
	l.now = clock.now
	for i := range 5 {
		if err := attempt(l, "alice", "192.0.2.1", false); err != nil {
			t.Fatalf("failure %d refused: %v", i+1, err)
		}
	}
	clock.add(time.Minute)
	err := attempt(l, "alice", "192.0.2.1", true)
	if !errors.Is(err, errThrottled) || !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("sixth attempt: %v, want a throttle error that is also unauthorized", err)
	}
	if want := "too many failed sign-in attempts for alice; try again in 14m"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if v, ok := retryAfter(err); !ok || v != "840" {
		t.Errorf("Retry-After %q, want 840", v)
	}
	if err := attempt(l, "alice", "192.0.2.2", true); err != nil {
		t.Errorf("alice from an address without failures: %v", err)
	}
	if err := attempt(l, "alice", "192.0.2.3", false); err != nil {
		t.Errorf("a first guess from a new address: %v", err)
	}
	if err := attempt(l, "alice", "192.0.2.3", true); !errors.Is(err, errThrottled) {
		t.Errorf("a second attempt from an address that failed while alice is slowed down: %v", err)
	}
	if err := attempt(l, "bob", "192.0.2.1", false); err != nil {
		t.Errorf("another name is refused: %v", err)
	}
	clock.add(14 * time.Minute)
	if err := attempt(l, "alice", "192.0.2.1", true); err != nil {
		t.Errorf("after the back-off: %v", err)
	}
}

func TestSignInLimiterWindow(t *testing.T) {
	clock := newClock()
	l := limiterFor(3, 0)
	l.now = clock.now
	for range 2 {
		_ = attempt(l, "alice", "", false)
	}
	clock.add(15 * time.Minute)
	for i := range 2 {
		if err := attempt(l, "alice", "", false); err != nil {
			t.Fatalf("failure %d of a new window refused: %v", i+1, err)
		}
	}
	if err := attempt(l, "alice", "", false); err != nil {
		t.Fatalf("third failure refused before it ran: %v", err)
	}
	if err := attempt(l, "alice", "", true); err == nil {
		t.Fatal("three failures in one window did not lock the name out")
	}
}

func TestSignInLimiterSuccessClearsTheNameOnly(t *testing.T) {
	l := limiterFor(3, 5)
	for range 2 {
		_ = attempt(l, "alice", "192.0.2.1", false)
	}
	if err := attempt(l, "alice", "192.0.2.1", true); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := attempt(l, "alice", "192.0.2.1", false); err != nil {
			t.Fatalf("failure %d after a success refused: the success did not clear the count: %v", i+1, err)
		}
	}
	// Four failures from the address so far: a cached good password
	// clears alice, but the address's fifth failure still locks it.
	l.succeeded("alice", "192.0.2.1")
	if err := attempt(l, "mallory", "192.0.2.1", false); err != nil {
		t.Fatal(err)
	}
	err := attempt(l, "alice", "192.0.2.1", true)
	if err == nil || !strings.Contains(err.Error(), "from your address") {
		t.Fatalf("sixth attempt from the address: %v", err)
	}
	if err := attempt(l, "alice", "192.0.2.9", true); err != nil {
		t.Errorf("alice from another address: %v", err)
	}
}

func TestSignInLimiterCountsChecksUnderWay(t *testing.T) {
	l := limiterFor(3, 0)
	var dones []func(bool)
	for range 3 {
		done, err := l.begin("alice", "")
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	_, err := l.begin("alice", "")
	var te *throttleError
	if !errors.As(err, &te) || !te.busy {
		t.Fatalf("a fourth check under way: %v, want busy", err)
	}
	if err := l.check("alice", ""); err != nil {
		t.Errorf("checks under way lock the name out: %v", err)
	}
	dones[0](true)
	if _, err := l.begin("alice", ""); err != nil {
		t.Errorf("a slot was not given back: %v", err)
	}
}

func TestSignInLimiterMemoryIsBounded(t *testing.T) {
	l := limiterFor(3, 3)
	l.names.max, l.clients.max = 8, 8
	for i := range 100 {
		_ = attempt(l, fmt.Sprint("user", i), fmt.Sprint("192.0.2.", i), false)
	}
	if n, m := len(l.names.keys), l.names.idle.Len(); n != 8 || m != 8 {
		t.Errorf("names: %d keys, %d in the list, want 8", n, m)
	}
	if l.names.lookup("user99") == nil || l.names.lookup("user0") != nil {
		t.Error("not the longest idle names were forgotten")
	}
	_ = attempt(l, "alice", "", true)
	if l.names.lookup("alice") != nil {
		t.Error("a success left a record behind")
	}
	_ = attempt(l, strings.Repeat("x", 10000), "", false)
	for k := range l.names.keys {
		if len(k) > 64 {
			t.Errorf("a key of %d bytes is kept", len(k))
		}
	}
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:5000":                 "192.0.2.7",
		"[::ffff:192.0.2.7]:80":          "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443":     "2001:db8:1:2::/64",
		"@":                              "@",
		"[fe80::1%eth0]:22":              "fe80::/64",
		"not an address":                 "not an address",
		"127.0.0.1:0":                    "127.0.0.1",
		"[2001:db8:ffff:ffff::1]:12345":  "2001:db8:ffff:ffff::/64",
		"[2001:0db8:0000:0000::1]:12345": "2001:db8::/64",
		"[::1]:8080":                     "::/64",
		"198.51.100.200:65535":           "198.51.100.200",
	} {
		if got := ClientAddr(in); got != want {
			t.Errorf("ClientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRoughly(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Minute:                 "15m",
		14*time.Minute + time.Second:     "15m",
		61 * time.Second:                 "2m",
		time.Minute:                      "60s",
		1500 * time.Millisecond:          "2s",
		time.Millisecond:                 "1s",
		13*time.Minute + 30*time.Second:  "14m",
		59*time.Second + time.Nanosecond: "60s",
	} {
		if got := roughly(d); got != want {
			t.Errorf("roughly(%v) = %q, want %q", d, got, want)
		}
	}
}
