package hub_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/hubtest"
)

// TestTokenRequestsBounded: a token request may ask for so many scopes
// and no more, however they are packed (repeated scope=, or one
// space-separated), and a bearer token over the size limit is refused
// unread (issue 16, finding 2: 9,000 scopes made a 683 KB token).
func TestTokenRequestsBounded(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true})
	many := make([]string, 9000)
	for i := range many {
		many[i] = fmt.Sprintf("repository:x/y%d:pull", i)
	}
	q := url.Values{"service": {h.Host}, "scope": {strings.Join(many, " ")}}
	if b, code := getToken(t, h, "", "", q); code != http.StatusBadRequest || b.Token != "" {
		t.Errorf("GET /token with 9,000 scopes: %d, token of %d bytes; want 400", code, len(b.Token))
	}
	q = url.Values{"service": {h.Host}, "scope": many[:200]}
	if b, code := getToken(t, h, "", "", q); code != http.StatusBadRequest || b.Token != "" {
		t.Errorf("GET /token with 200 scope parameters: %d, token of %d bytes; want 400", code, len(b.Token))
	}
	q = url.Values{"service": {h.Host}, "scope": many[:100]}
	if b, code := getToken(t, h, "", "", q); code != http.StatusOK || b.Token == "" {
		t.Errorf("GET /token with 100 scopes: %d; want 200", code)
	}
	big := "a." + strings.Repeat("b", 100<<10) + ".c"
	a := send(t, func() *http.Request {
		r := mustRequest(http.MethodGet, h.URL+"/v2/x/y/tags/list")
		r.Header.Set("Authorization", "Bearer "+big)
		return r
	}())
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "too big") {
		t.Errorf("a 100 KB bearer token: %d %.200s; want 401 saying it is too big", a.status, a.body)
	}
}
