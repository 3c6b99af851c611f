package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/internal/syncbuf"
)

// limitedHub is a test hub with small sign-in limits (3 failures a name, 6
// an address, a one-minute back-off unless tweak says otherwise), and its
// log.
func limitedHub(t *testing.T, tweak func(*hub.Config)) (*hubtest.Hub, *syncbuf.Buffer) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String()
	root := t.TempDir()
	log := &syncbuf.Buffer{}
	cfg := hub.Config{
		Root: root, PublicURL: "http://" + host, GCInterval: -1,
		Logger:         slog.New(slog.NewTextHandler(log, nil)),
		SignInFailures: 3, SignInFailuresPerIP: 6, SignInBackoff: time.Minute,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	h, err := hub.New(context.Background(), cfg)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return &hubtest.Hub{Server: srv, Hub: h, Root: root, Host: host}, log
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(body)}
}

// basicGet is GET path with Basic credentials.
func basicGet(t *testing.T, h *hubtest.Hub, path, user, pw string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.URL+path, nil)
	req.SetBasicAuth(user, pw)
	return send(t, req)
}

// login is `docker login`'s token request.
func login(t *testing.T, h *hubtest.Hub, user, pw string) answer {
	t.Helper()
	q := url.Values{"service": {h.Host}, "offline_token": {"true"}, "client_id": {"docker"}, "account": {user}}
	return basicGet(t, h, "/token?"+q.Encode(), user, pw)
}

// passwordGrant is the OAuth2 password grant.
func passwordGrant(t *testing.T, h *hubtest.Hub, user, pw string) answer {
	t.Helper()
	f := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}, "service": {h.Host}, "client_id": {"test"}, "access_type": {"offline"}}
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/token", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(t, req)
}

// metric reads one counter of /metrics.
func metric(t *testing.T, h *hubtest.Hub, name string) int {
	t.Helper()
	_, body := metricsOf(h)
	m := regexp.MustCompile(`(?:^|\s)` + name + ` (\d+)`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func mustRequest(method, u string) *http.Request {
	req, _ := http.NewRequest(method, u, nil)
	return req
}

// wantThrottled checks a 429 with a Retry-After of at most max seconds
// and a body that names who is refused.
func wantThrottled(t *testing.T, what string, a answer, max int, who string) {
	t.Helper()
	if a.status != http.StatusTooManyRequests {
		t.Errorf("%s: %d %s, want 429", what, a.status, a.body)
		return
	}
	secs, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > max {
		t.Errorf("%s: Retry-After %q, want 1 to %d seconds", what, a.header.Get("Retry-After"), max)
	}
	if want := "too many failed sign-in attempts " + who + "; try again in "; !strings.Contains(a.body, want) {
		t.Errorf("%s: body %s, want %q", what, a.body, want)
	}
}

func TestSignInThrottle(t *testing.T) {
	h, log := limitedHub(t, nil)
	h.AddUser(t, "alice", "alice-pw")
	h.AddUser(t, "bob", "bob-pw")

	// A good password the hub remembers (it spares bcrypt) is no way
	// past a lock-out either.
	if a := login(t, h, "alice", "alice-pw"); a.status != http.StatusOK {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	for i := range 3 {
		if a := login(t, h, "alice", "guess"+strconv.Itoa(i)); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, a.status, a.body)
		}
	}
	checks, refusals := metric(t, h, "berth_hub_password_checks_total"), metric(t, h, "berth_hub_signin_refusals_total")

	// Refused everywhere a password is taken, the right one too.
	a := login(t, h, "alice", "alice-pw")
	wantThrottled(t, "GET /token", a, 60, "for alice")
	var docker struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(a.body), &docker); err != nil || len(docker.Errors) != 1 || docker.Errors[0].Code != "TOOMANYREQUESTS" ||
		!regexp.MustCompile(`^too many failed sign-in attempts for alice; try again in \d+s$`).MatchString(docker.Errors[0].Message) {
		t.Errorf("GET /token body %s, want one TOOMANYREQUESTS error with a one-line message", a.body)
	}
	a = passwordGrant(t, h, "alice", "alice-pw")
	wantThrottled(t, "POST /token", a, 60, "for alice")
	var oauth map[string]string
	if err := json.Unmarshal([]byte(a.body), &oauth); err != nil || oauth["error"] != "temporarily_unavailable" || !strings.HasPrefix(oauth["error_description"], "too many failed") {
		t.Errorf("POST /token body %s, want OAuth2's error and description", a.body)
	}
	for _, path := range []string{"/v2/", "/v2/alice/app/tags/list", "/api/v1/user", "/v1/search?q=x"} {
		wantThrottled(t, "GET "+path, basicGet(t, h, path, "alice", "alice-pw"), 60, "for alice")
	}
	if got := metric(t, h, "berth_hub_password_checks_total"); got != checks {
		t.Errorf("refused attempts ran bcrypt: %d password checks, want %d", got, checks)
	}
	if got := metric(t, h, "berth_hub_signin_refusals_total"); got != refusals+6 {
		t.Errorf("%d refusals counted, want %d", got, refusals+6)
	}

	// Another account from the same address is not refused.
	if a := login(t, h, "bob", "bob-pw"); a.status != http.StatusOK {
		t.Errorf("bob: %d %s", a.status, a.body)
	}
	for _, want := range []string{`level=WARN msg="sign-in locked out" by=name name=alice client=127.0.0.1`, `level=WARN msg="sign-in refused" name=alice client=127.0.0.1`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

func TestSignInThrottleCountsEveryWayIn(t *testing.T) {
	h, _ := limitedHub(t, nil)
	h.AddUser(t, "alice", "alice-pw")
	if a := passwordGrant(t, h, "alice", "x"); a.status != http.StatusUnauthorized {
		t.Fatalf("password grant: %d", a.status)
	}
	if a := basicGet(t, h, "/api/v1/user", "alice", "y"); a.status != http.StatusUnauthorized {
		t.Fatalf("API: %d", a.status)
	}
	if a := basicGet(t, h, "/v2/", "alice", "z"); a.status != http.StatusUnauthorized {
		t.Fatalf("registry: %d", a.status)
	}
	wantThrottled(t, "login after a failed grant, API call and registry call", login(t, h, "alice", "alice-pw"), 60, "for alice")
}

func TestSignInSuccessClearsTheCount(t *testing.T) {
	// Only the name's count is cleared: the address's would lock it out
	// here, as an attacker with an account of their own must not clear it.
	h, _ := limitedHub(t, func(c *hub.Config) { c.SignInFailuresPerIP = -1 })
	h.AddUser(t, "alice", "alice-pw")
	for round := range 3 {
		for range 2 {
			if a := login(t, h, "alice", "wrong"); a.status != http.StatusUnauthorized {
				t.Fatalf("round %d: a wrong password: %d %s", round, a.status, a.body)
			}
		}
		if a := login(t, h, "alice", "alice-pw"); a.status != http.StatusOK {
			t.Fatalf("round %d: the right password after two failures: %d %s", round, a.status, a.body)
		}
	}
}

func TestSignInLimitPerAddress(t *testing.T) {
	h, _ := limitedHub(t, nil)
	h.AddUser(t, "alice", "alice-pw")
	for i := range 6 {
		if a := login(t, h, fmt.Sprint("user", i), "guess"); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i, a.status, a.body)
		}
	}
	wantThrottled(t, "alice after six failures from her address", login(t, h, "alice", "alice-pw"), 60, "from your address")
	wantThrottled(t, "a new name from that address", passwordGrant(t, h, "newcomer", "x"), 60, "from your address")
}

// TestSignInWebCountsTheBrowser checks that the web pages' sign-ins, which
// reach the token endpoint in process, count against the browser's
// address and not against one address shared by every browser.
func TestSignInWebCountsTheBrowser(t *testing.T) {
	h, _ := limitedHub(t, func(c *hub.Config) { c.SignInFailures = -1 })
	h.AddUser(t, "alice", "alice-pw")
	webSignIn := func(remote, user, pw string) int {
		get := httptest.NewRequest(http.MethodGet, "/signin", nil)
		get.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.Hub.ServeHTTP(rec, get)
		csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(rec.Body.String())
		if csrf == nil {
			t.Fatalf("no sign-in form: %s", rec.Body)
		}
		form := url.Values{"csrf": {csrf[1]}, "username": {user}, "password": {pw}, "next": {"/"}}
		post := httptest.NewRequest(http.MethodPost, "/signin", strings.NewReader(form.Encode()))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		post.RemoteAddr = remote
		for _, c := range rec.Result().Cookies() {
			post.AddCookie(c)
		}
		rec = httptest.NewRecorder()
		h.Hub.ServeHTTP(rec, post)
		return rec.Code
	}
	for i := range 6 {
		if code := webSignIn("203.0.113.9:4000", fmt.Sprint("user", i), "guess"); code != http.StatusUnauthorized {
			t.Fatalf("web guess %d: %d", i, code)
		}
	}
	if code := webSignIn("203.0.113.9:4001", "alice", "alice-pw"); code != http.StatusTooManyRequests {
		t.Errorf("the guessing browser signs in: %d, want 429", code)
	}
	if code := webSignIn("198.51.100.4:4000", "alice", "alice-pw"); code != http.StatusSeeOther {
		t.Errorf("another browser signs in: %d, want 303", code)
	}
	if a := login(t, h, "alice", "alice-pw"); a.status != http.StatusOK {
		t.Errorf("a client on the hub's own host logs in: %d %s", a.status, a.body)
	}
}

// TestSignInThrottleConcurrent fires many guesses at once: no more of them
// run bcrypt than the limit allows, however many arrive together.
func TestSignInThrottleConcurrent(t *testing.T) {
	h, _ := limitedHub(t, func(c *hub.Config) { c.SignInFailuresPerIP = -1 })
	h.AddUser(t, "alice", "alice-pw")
	checks := metric(t, h, "berth_hub_password_checks_total")
	var wg sync.WaitGroup
	statuses := make(chan int, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, h.URL+"/token?service="+h.Host, nil)
			req.SetBasicAuth("alice", fmt.Sprint("guess", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusUnauthorized] > 3 || count[http.StatusTooManyRequests] < 27 {
		t.Errorf("30 guesses at once: %v, want at most 3 checked (401) and the rest refused (429)", count)
	}
	if ran := metric(t, h, "berth_hub_password_checks_total") - checks; ran > 3 {
		t.Errorf("30 guesses at once ran bcrypt %d times, want at most 3", ran)
	}
}

func TestSignInBackoffEnds(t *testing.T) {
	h, _ := limitedHub(t, func(c *hub.Config) { c.SignInBackoff = time.Second })
	h.AddUser(t, "alice", "alice-pw")
	for range 3 {
		login(t, h, "alice", "wrong")
	}
	a := login(t, h, "alice", "alice-pw")
	wantThrottled(t, "during the back-off", a, 1, "for alice")
	time.Sleep(1100 * time.Millisecond)
	if a := login(t, h, "alice", "alice-pw"); a.status != http.StatusOK {
		t.Errorf("after the back-off: %d %s", a.status, a.body)
	}
}
