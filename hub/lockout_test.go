package hub_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
)

// TestGuesserCannotLockTheOwnerOut: wrong passwords for bob slow down the
// address they come from, not bob: bob signs in from another address at
// once. Guesses spread over many addresses slow down each of them after
// its first, while an address with no failures still passes (issue 16,
// finding 5: five wrong passwords from anywhere refused bob's right one
// for 15 minutes).
func TestGuesserCannotLockTheOwnerOut(t *testing.T) {
	h, _ := limitedHub(t, nil)
	h.AddUser(t, "bob", "bob-pw")
	tokenFrom := func(remote, pw string) (int, string) {
		q := url.Values{"service": {h.Host}, "account": {"bob"}}
		r := httptest.NewRequest(http.MethodGet, "/token?"+q.Encode(), nil)
		r.RemoteAddr = remote
		r.SetBasicAuth("bob", pw)
		rec := httptest.NewRecorder()
		h.Hub.ServeHTTP(rec, r)
		return rec.Code, rec.Header().Get("Retry-After")
	}
	for i := range 5 {
		code, _ := tokenFrom("203.0.113.9:4000", fmt.Sprint("guess", i))
		if code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
			t.Fatalf("guess %d: %d", i+1, code)
		}
	}
	if code, retry := tokenFrom("203.0.113.9:4001", "bob-pw"); code != http.StatusTooManyRequests || retry == "" {
		t.Errorf("the guesser's address with bob's password: %d, Retry-After %q; want 429 with Retry-After", code, retry)
	}
	if code, _ := tokenFrom("198.51.100.4:4000", "bob-pw"); code != http.StatusOK {
		t.Errorf("bob from another address: %d, want 200", code)
	}

	// Many addresses, one guess each: once the account has seen failures,
	// each guessing address gets no second guess, a new address passes.
	for i := range 10 {
		tokenFrom("192.0.2."+strconv.Itoa(i)+":1", "spray")
	}
	if code, retry := tokenFrom("192.0.2.3:2", "spray-again"); code != http.StatusTooManyRequests || retry == "" {
		t.Errorf("a second guess from a spraying address: %d, Retry-After %q; want 429", code, retry)
	}
	if code, _ := tokenFrom("198.51.100.5:4000", "bob-pw"); code != http.StatusOK {
		t.Errorf("bob from an address with no failures: %d, want 200", code)
	}
}
