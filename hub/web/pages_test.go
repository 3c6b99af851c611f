package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/hubtest"
)

const evil = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`

// browser is an HTTP client that keeps cookies and does not follow
// redirects, so each answer can be looked at.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, header ...string) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", page)
	}
	return m[1]
}

func (b *browser) signIn(user, password string) int {
	b.t.Helper()
	status, _, _ := b.signInAnswer(user, password)
	return status
}

// signInAnswer fills in and sends the sign-in form.
func (b *browser) signInAnswer(user, password string) (int, string, http.Header) {
	b.t.Helper()
	_, page, _ := b.do("GET", "/signin?next=/r/welcome", nil)
	return b.do("POST", "/signin", url.Values{"csrf": {csrfOf(b.t, page)}, "username": {user}, "password": {password}, "next": {"/r/welcome"}})
}

func testHub(t *testing.T) *hubtest.Hub {
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true})
	h.AddUser(t, "alice", "secret")
	h.AddUser(t, "bob", "secret")
	h.PushRandom(t, "alice/app:v1", 1, 512)
	h.SetRepo(t, "alice/app", hubtest.Repo{Description: hubtest.Ptr(evil), FullDescription: hubtest.Ptr("# App\n\n" + evil + "\n\n[x](javascript:alert(1))")})
	return h
}

func TestRepositoryTextIsEscaped(t *testing.T) {
	h := testHub(t)
	b := newBrowser(t, h.URL)
	for _, path := range []string{"/r/alice/app", "/?q=app", "/u/alice"} {
		status, page, hdr := b.do("GET", path, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, status, page)
		}
		if strings.Contains(page, "<script>window") || strings.Contains(page, "<img src=x") || strings.Contains(page, `href="javascript:`) {
			t.Errorf("GET %s renders the description as markup:\n%s", path, page)
		}
		if !strings.Contains(page, "&lt;script&gt;window.pwned=1&lt;/script&gt;") {
			t.Errorf("GET %s does not show the short description as text", path)
		}
		if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
}

func TestSearchFiltersAndSort(t *testing.T) {
	h := testHub(t)
	h.SetRepo(t, "alice/welcome-notes", hubtest.Repo{Description: hubtest.Ptr("notes on welcome"), Badge: hubtest.Ptr("verified_publisher"), Stars: hubtest.Ptr(int64(100))})
	b := newBrowser(t, h.URL)
	order := func(page string) []string {
		var names []string
		for _, m := range regexp.MustCompile(`<li class="result" data-name="([^"]+)"`).FindAllStringSubmatch(page, -1) {
			names = append(names, m[1])
		}
		return names
	}
	for _, tt := range []struct {
		query string
		want  string
	}{
		{"/?q=welcome", "welcome alice/welcome-notes"},
		{"/?q=welcome&sort=stars", "alice/welcome-notes welcome"},
		{"/?q=welcome&badge=official", "welcome"},
		{"/?q=welcome&badge=verified_publisher", "alice/welcome-notes"},
		{"/?q=welcome&badge=open_source", ""},
	} {
		status, page, _ := b.do("GET", tt.query, nil)
		if got := strings.Join(order(page), " "); status != 200 || got != tt.want {
			t.Errorf("GET %s: %d %q, want %q", tt.query, status, got, tt.want)
		}
	}
	if status, _, _ := b.do("GET", "/?badge=gold", nil); status != http.StatusBadRequest {
		t.Errorf("an unknown badge: %d, want 400", status)
	}
}

func TestSignInAndStar(t *testing.T) {
	h := testHub(t)
	b := newBrowser(t, h.URL)

	// The sign-in form needs its CSRF cookie, and the right password.
	if status, _, _ := b.do("POST", "/signin", url.Values{"csrf": {"0123456789abcdef0123456789abcdef"}, "username": {"alice"}, "password": {"secret"}}); status != http.StatusForbidden {
		t.Errorf("sign in without the form's cookie: %d, want 403", status)
	}
	if status := b.signIn("alice", "wrong"); status != http.StatusUnauthorized {
		t.Errorf("a wrong password: %d, want 401", status)
	}
	if status := b.signIn("alice", "secret"); status != http.StatusSeeOther {
		t.Fatalf("sign in: %d, want 303", status)
	}
	_, page, _ := b.do("GET", "/r/welcome", nil)
	if !strings.Contains(page, `☆ Star`) || !strings.Contains(page, "★ 42") {
		t.Fatalf("signed in, the page has no star button or not 42 stars:\n%s", page)
	}
	csrf := csrfOf(t, page)

	// Refused: no token, a wrong one, another site's origin.
	for _, tt := range []struct {
		form   url.Values
		header []string
	}{
		{url.Values{"action": {"star"}}, nil},
		{url.Values{"action": {"star"}, "csrf": {strings.Repeat("0", 32)}}, nil},
		{url.Values{"action": {"star"}, "csrf": {csrf}}, []string{"Origin", "http://evil.example"}},
		{url.Values{"action": {"star"}, "csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		if status, _, _ := b.do("POST", "/star/welcome", tt.form, tt.header...); status != http.StatusForbidden {
			t.Errorf("star with %v %v: %d, want 403", tt.form, tt.header, status)
		}
	}
	if _, page, _ = b.do("GET", "/r/welcome", nil); !strings.Contains(page, "★ 42") {
		t.Fatal("a refused star counted")
	}
	if status, _, hdr := b.do("POST", "/star/welcome", url.Values{"action": {"star"}, "csrf": {csrf}}, "Origin", h.URL); status != http.StatusSeeOther || hdr.Get("Location") != "/r/welcome" {
		t.Fatalf("star: %d %s", status, hdr.Get("Location"))
	}
	if _, page, _ = b.do("GET", "/r/welcome", nil); !strings.Contains(page, "★ 43") || !strings.Contains(page, "★ Starred") {
		t.Fatalf("after starring, not 43 stars and Starred:\n%s", page)
	}

	// Signing out needs the token too, and ends the session.
	if status, _, _ := b.do("POST", "/signout", url.Values{}); status != http.StatusForbidden {
		t.Errorf("sign out without the token: %d, want 403", status)
	}
	b.do("POST", "/signout", url.Values{"csrf": {csrf}})
	if _, page, _ = b.do("GET", "/r/welcome", nil); !strings.Contains(page, "Sign in to star") {
		t.Error("still signed in after signing out")
	}
	// Anonymous stars go to the sign-in page.
	if status, _, hdr := b.do("POST", "/star/welcome", url.Values{"action": {"star"}}); status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/signin?next=") {
		t.Errorf("anonymous star: %d %s", status, hdr.Get("Location"))
	}
}

func TestSettingsForOwnersOnly(t *testing.T) {
	h := testHub(t)
	bob := newBrowser(t, h.URL)
	bob.signIn("bob", "secret")
	if status, _, _ := bob.do("GET", "/settings/alice/app", nil); status != http.StatusForbidden {
		t.Errorf("bob opens alice's settings: %d, want 403", status)
	}
	_, page, _ := bob.do("GET", "/r/welcome", nil)
	if status, _, _ := bob.do("POST", "/settings/alice/app", url.Values{"csrf": {csrfOf(t, page)}, "description": {"bob was here"}}); status != http.StatusForbidden {
		t.Errorf("bob changes alice's settings: %d, want 403", status)
	}

	alice := newBrowser(t, h.URL)
	alice.signIn("alice", "secret")
	status, page, _ := alice.do("GET", "/settings/alice/app", nil)
	if status != http.StatusOK || !strings.Contains(page, "&lt;script&gt;") {
		t.Fatalf("alice's settings: %d\n%s", status, page)
	}
	form := url.Values{"csrf": {csrfOf(t, page)}, "description": {"an app"}, "full_description": {"# App\r\n\r\nIt runs."}}
	if status, _, _ := alice.do("POST", "/settings/alice/app", url.Values{"description": {"no token"}}); status != http.StatusForbidden {
		t.Errorf("settings without the token: %d, want 403", status)
	}
	if status, _, hdr := alice.do("POST", "/settings/alice/app", form); status != http.StatusSeeOther {
		t.Fatalf("save settings: %d %v", status, hdr)
	}
	_, page, _ = alice.do("GET", "/r/alice/app", nil)
	if !strings.Contains(page, "an app") || !strings.Contains(page, "<h1>App</h1>") || !strings.Contains(page, "It runs.") {
		t.Errorf("the page does not show the new descriptions:\n%s", page)
	}
	if !strings.Contains(page, `href="/settings/alice/app"`) {
		t.Error("the owner sees no Settings link")
	}
}

func TestNotFound(t *testing.T) {
	h := testHub(t)
	b := newBrowser(t, h.URL)
	for _, path := range []string{"/r/nothing", "/r/welcome/tags", "/r/UPPER", "/u/nobody", "/nowhere"} {
		if status, _, _ := b.do("GET", path, nil); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, status)
		}
	}
}

// TestSignInThrottled checks the form after too many wrong passwords: the
// hub's default limit of 5 for an account, then 429, Retry-After and a
// message that says how long to wait, the right password included.
func TestSignInThrottled(t *testing.T) {
	h := testHub(t)
	b := newBrowser(t, h.URL)
	for i := range 5 {
		if status := b.signIn("alice", "wrong"); status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, status)
		}
	}
	status, page, hdr := b.signInAnswer("alice", "secret")
	if status != http.StatusTooManyRequests {
		t.Fatalf("sign in after 5 failures: %d, want 429", status)
	}
	if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || secs < 1 || secs > 15*60 {
		t.Errorf("Retry-After %q, want 1 to 900 seconds", hdr.Get("Retry-After"))
	}
	if !regexp.MustCompile(`<p class="alert" role="alert">Too many failed sign-in attempts for alice; try again in \d+m\.</p>`).MatchString(page) {
		t.Errorf("the form does not say why and for how long:\n%s", page)
	}
	if !strings.Contains(page, `name="password"`) || !strings.Contains(page, `value="alice"`) {
		t.Errorf("the form is not shown again with the name:\n%s", page)
	}
	if status := newBrowser(t, h.URL).signIn("bob", "secret"); status != http.StatusSeeOther {
		t.Errorf("bob signs in: %d, want 303", status)
	}
}

// TestSignOutEndsTheSession replays a copy of the session cookie after
// signing out: the hub must refuse it, not just the browser forget it.
func TestSignOutEndsTheSession(t *testing.T) {
	h := testHub(t)
	b := newBrowser(t, h.URL)
	if status := b.signIn("alice", "secret"); status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", status)
	}
	u, _ := url.Parse(h.URL)
	var stolen string
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "berth_hub_session" {
			stolen = c.Value
		}
	}
	if stolen == "" {
		t.Fatal("no session cookie after signing in")
	}
	thief := func() *browser {
		c := newBrowser(t, h.URL)
		c.c.Jar.SetCookies(u, []*http.Cookie{{Name: "berth_hub_session", Value: stolen, Path: "/"}})
		return c
	}
	if _, page, _ := thief().do("GET", "/r/welcome", nil); !strings.Contains(page, "Sign out") {
		t.Fatal("the copied cookie does not work before signing out, so this test proves nothing")
	}

	_, page, _ := b.do("GET", "/r/welcome", nil)
	if status, _, hdr := b.do("POST", "/signout", url.Values{"csrf": {csrfOf(t, page)}}); status != http.StatusSeeOther || hdr.Get("Location") != "/" {
		t.Fatalf("sign out: %d %s", status, hdr.Get("Location"))
	}

	c := thief()
	if _, page, _ := c.do("GET", "/r/welcome", nil); strings.Contains(page, "Sign out") || !strings.Contains(page, "Sign in to star") {
		t.Errorf("the copied cookie still signs in after signing out:\n%s", page)
	}
	if status, _, hdr := c.do("GET", "/settings/alice/app", nil); status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/signin") {
		t.Errorf("the copied cookie opens the settings after signing out: %d %s", status, hdr.Get("Location"))
	}
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {stolen}, "service": {h.Host}, "client_id": {"thief"}}
	resp, err := http.PostForm(h.URL+"/token", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the copied cookie's refresh token at /token after signing out: %d, want 401", resp.StatusCode)
	}
	// Signing in again starts a new session that works.
	if status := b.signIn("alice", "secret"); status != http.StatusSeeOther {
		t.Fatalf("sign in again: %d", status)
	}
	if _, page, _ := b.do("GET", "/r/welcome", nil); !strings.Contains(page, "Sign out") {
		t.Error("not signed in after signing in again")
	}
}

// TestSignInRedirectStaysOnSite: after signing in, next goes to a path on
// this site, whatever a browser would make of it (issue 16, finding 3).
func TestSignInRedirectStaysOnSite(t *testing.T) {
	h := testHub(t)
	b := newBrowser(t, h.URL)
	if status := b.signIn("alice", "secret"); status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", status)
	}
	for _, next := range []string{"/%09/evil.example/x", "/%0a/evil.example/x", "%2F%2Fevil.example", "/%5Cevil.example", "https://evil.example/"} {
		_, _, hdr := b.do("GET", "/signin?next="+next, nil)
		loc := hdr.Get("Location")
		u, err := url.Parse(loc)
		if err != nil || u.Host != "" || u.Scheme != "" || strings.ContainsAny(loc, "\\\t\n\r") || strings.HasPrefix(loc, "//") {
			t.Errorf("next=%s: Location %q, want a path on this site", next, loc)
		}
	}
}
