package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/registry/client"
)

// dashboard is a Server over an empty store, its default hub hub (may be
// ""), served on loopback.
func dashboard(t *testing.T, hub string) (*Server, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	e, err := engine.Open(ctx, engine.Options{Root: t.TempDir(), DefaultHub: hub})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(e, Options{Registry: client.New(client.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
		e.Close()
	})
	return s, srv
}

func do(t *testing.T, srv *httptest.Server, method, path string, body string, header ...string) *http.Response {
	t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	var req *http.Request
	if r != nil {
		req, _ = http.NewRequest(method, srv.URL+path, r)
	} else {
		req, _ = http.NewRequest(method, srv.URL+path, nil)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestGuard(t *testing.T) {
	s, srv := dashboard(t, "")
	host := strings.TrimPrefix(srv.URL, "http://")
	origin := srv.URL
	cookie := cookieName(host) + "=" + s.Token()
	bearer := "Bearer " + s.Token()
	tests := []struct {
		name         string
		method, path string
		header       []string
		want         int
	}{
		{"no token", "GET", "/api/images", nil, 401},
		{"no token, the page", "GET", "/", nil, 401},
		{"wrong token", "GET", "/api/images?token=00", nil, 401},
		{"wrong cookie", "GET", "/api/images", []string{"Cookie", cookieName(host) + "=nope"}, 401},
		{"wrong bearer", "GET", "/api/images", []string{"Authorization", "Bearer nope"}, 401},
		{"the token, then a cookie", "GET", "/?token=" + s.Token(), nil, 303},
		{"cookie", "GET", "/api/images", []string{"Cookie", cookie}, 200},
		{"bearer", "GET", "/api/images", []string{"Authorization", bearer}, 200},
		{"token in the query of an API call", "GET", "/api/images?token=" + s.Token(), nil, 200},
		{"another dashboard's cookie", "GET", "/api/images", []string{"Cookie", "berth-ui-1=" + s.Token()}, 401},
		{"a rebound host name", "GET", "/api/images", []string{"Authorization", bearer, "Host", "evil.example:" + strings.Split(host, ":")[1]}, 403},
		{"foreign origin, GET", "GET", "/api/images", []string{"Cookie", cookie, "Origin", "http://evil.example"}, 403},
		{"foreign origin, with the bearer token", "GET", "/api/images", []string{"Authorization", bearer, "Origin", "http://evil.example"}, 403},
		{"foreign origin, DELETE", "DELETE", "/api/images?ref=x", []string{"Cookie", cookie, "Origin", "http://evil.example"}, 403},
		{"foreign origin, another port", "POST", "/api/pulls", []string{"Cookie", cookie, "Origin", "http://127.0.0.1:1"}, 403},
		{"null origin", "POST", "/api/pulls", []string{"Cookie", cookie, "Origin", "null"}, 403},
		{"cookie POST without an Origin", "POST", "/api/pulls", []string{"Cookie", cookie}, 403},
		{"cookie POST from the dashboard", "POST", "/api/pulls", []string{"Cookie", cookie, "Origin", origin}, 400},
		{"bearer POST without an Origin", "POST", "/api/pulls", []string{"Authorization", bearer}, 400},
		{"websocket, foreign origin", "GET", "/api/containers/x/exec", []string{"Cookie", cookie, "Origin", "http://evil.example", "Upgrade", "websocket", "Connection", "Upgrade"}, 403},
		{"websocket, no origin", "GET", "/api/containers/x/exec", []string{"Cookie", cookie, "Upgrade", "websocket", "Connection", "Upgrade"}, 403},
		{"websocket, no token", "GET", "/api/containers/x/exec", []string{"Origin", origin, "Upgrade", "websocket", "Connection", "Upgrade"}, 401},
	}
	for _, tt := range tests {
		resp := do(t, srv, tt.method, tt.path, "", tt.header...)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %s %s: %d, want %d", tt.name, tt.method, tt.path, resp.StatusCode, tt.want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q", tt.name, csp)
		}
	}

	// The token leaves the address for a cookie only the dashboard reads.
	resp := do(t, srv, "GET", "/?token="+s.Token()+"&x=1", "")
	if loc := resp.Header.Get("Location"); loc != "/?x=1" {
		t.Errorf("redirect to %q, want /?x=1", loc)
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == cookieName(host) {
			c = k
		}
	}
	if c == nil || c.Value != s.Token() || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %+v", c)
	}
	// With the cookie, the page and its scripts load.
	for _, p := range []string{"/", "/js/app.js", "/app.css"} {
		if resp := do(t, srv, "GET", p, "", "Cookie", cookie); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:0": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.1:8080": false, "example.com:80": false, "127.0.0.1": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestRunRequest(t *testing.T) {
	tests := []struct {
		q       runRequest
		publish string // host:container/proto, space-separated
		env     string
		err     string
	}{
		{q: runRequest{Image: "img", Ports: []portRequest{{"80/tcp", "0"}}}, publish: "0:80/tcp"},
		{q: runRequest{Image: "img", Ports: []portRequest{{"80/tcp", " 8080 "}, {"53/udp", "5353"}, {"443/tcp", ""}}}, publish: "8080:80/tcp 5353:53/udp"},
		{q: runRequest{Image: "img", Ports: []portRequest{{"80/tcp", "http"}}}, err: `invalid host port "http" for 80/tcp`},
		{q: runRequest{Image: "img", Ports: []portRequest{{"80/tcp", "70000"}}}, err: `invalid host port "70000"`},
		{q: runRequest{Image: "img", Env: []string{"A=1", "", "B="}}, env: "A=1 B="},
		{q: runRequest{Image: "img", Env: []string{"=1"}}, err: "invalid environment variable: =1"},
		{q: runRequest{Image: "img", Volumes: []string{"data:/data", ""}}},
		{q: runRequest{Image: "img", Volumes: []string{"data:relative"}}, err: "relative"},
		{q: runRequest{Image: " "}, err: "no image to run"},
	}
	for _, tt := range tests {
		o, err := tt.q.createOptions()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%+v: error %v, want %q", tt.q, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tt.q, err)
			continue
		}
		var pub []string
		for _, b := range o.Publish {
			pub = append(pub, fmt.Sprintf("%d:%d/%s", b.HostPort, b.ContainerPort, b.Proto))
		}
		if got := strings.Join(pub, " "); got != tt.publish {
			t.Errorf("%+v: publish %q, want %q", tt.q, got, tt.publish)
		}
		if got := strings.Join(o.Env, " "); got != tt.env {
			t.Errorf("%+v: env %q, want %q", tt.q, got, tt.env)
		}
	}
}

// sse reads server-sent events until the stream ends.
func sse(t *testing.T, resp *http.Response) []struct{ name, data string } {
	t.Helper()
	var out []struct{ name, data string }
	sc := bufio.NewScanner(resp.Body)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			out = append(out, struct{ name, data string }{name, strings.TrimPrefix(line, "data: ")})
		}
	}
	return out
}

func TestImagesPullDetailsDelete(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	h.PushRandom(t, "team/app:v1", 3, 300<<10)
	s, srv := dashboard(t, h.Host)
	auth := []string{"Authorization", "Bearer " + s.Token()}

	resp := do(t, srv, "POST", "/api/pulls", `{"ref":"team/app:v1"}`, auth...)
	var started struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&started); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start a pull: %d %v", resp.StatusCode, err)
	}
	events := sse(t, do(t, srv, "GET", "/api/pulls/"+started.ID+"/events", "", auth...))
	complete := map[string]bool{}
	var last struct{ name, data string }
	for _, ev := range events {
		if ev.name == "layer" {
			var l struct{ ID, Status string }
			_ = json.Unmarshal([]byte(ev.data), &l)
			if l.Status == "Pull complete" {
				complete[l.ID] = true
			}
		}
		last = ev
	}
	if len(complete) != 3 || last.name != "done" || !strings.Contains(last.data, `"ref":"team/app:v1"`) {
		t.Fatalf("pull events: %d layers complete, last %v\n%v", len(complete), last, events)
	}
	// A second follower sees the same end.
	if again := sse(t, do(t, srv, "GET", "/api/pulls/"+started.ID+"/events", "", auth...)); again[len(again)-1].name != "done" {
		t.Errorf("following a finished pull: %v", again)
	}

	var rows []imageRow
	_ = json.NewDecoder(do(t, srv, "GET", "/api/images", "", auth...).Body).Decode(&rows)
	if len(rows) != 1 || rows[0].Ref != "team/app:v1" || rows[0].Repo != "team/app" || rows[0].Tag != "v1" || len(rows[0].ShortID) != 12 || len(rows[0].Containers) != 0 {
		t.Fatalf("images: %+v", rows)
	}

	var d imageDetail
	_ = json.NewDecoder(do(t, srv, "GET", "/api/image?ref=team/app:v1", "", auth...).Body).Decode(&d)
	if len(d.Layers) != 3 || d.Layers[0].CreatedBy != "COPY data-0.bin / # buildkit" || d.Layers[0].Size == 0 {
		t.Errorf("details: %+v", d)
	}
	analysis := sse(t, do(t, srv, "GET", "/api/image/analysis?ref=team/app:v1", "", auth...))
	names := []string{}
	for _, ev := range analysis {
		names = append(names, ev.name)
	}
	if got := strings.Join(names, " "); !strings.HasSuffix(got, "packages vulnerabilities") || !strings.Contains(analysis[len(analysis)-1].data, `"database":"none"`) {
		t.Errorf("analysis events: %s\n%v", got, analysis)
	}

	if resp := do(t, srv, "DELETE", "/api/images?ref=team/app:v1", "", auth...); resp.StatusCode != 200 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	resp = do(t, srv, "DELETE", "/api/images?ref=team/app:v1", "", auth...)
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 404 || body["error"] != "No such image: team/app:v1" {
		t.Errorf("delete again: %d %v", resp.StatusCode, body)
	}
	if resp := do(t, srv, "GET", "/api/pulls/nope/events", "", auth...); resp.StatusCode != 404 {
		t.Errorf("an unknown pull: %d", resp.StatusCode)
	}
	if resp := do(t, srv, "POST", "/api/pulls", `{"ref":"UPPER"}`, auth...); resp.StatusCode != 400 {
		t.Errorf("a bad reference: %d", resp.StatusCode)
	}
}

func TestSearchAnswersTheHub(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Seed: true})
	s, srv := dashboard(t, h.Host)
	resp := do(t, srv, "GET", "/api/search?q=welcome", "", "Authorization", "Bearer "+s.Token())
	var out struct {
		Results []searchResult
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if len(out.Results) != 1 || out.Results[0].Name != "welcome" || out.Results[0].Ref != "welcome" || out.Results[0].Badge != "official" || out.Results[0].Stars != 42 {
		t.Errorf("search: %+v", out)
	}
	// Another hub, named in the search, is where its results are pulled from.
	resp = do(t, srv, "GET", "/api/search?q="+h.Host+"/welcome", "", "Authorization", "Bearer "+s.Token())
	out.Results = nil
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if len(out.Results) != 1 || out.Results[0].Ref != h.Host+"/welcome" {
		t.Errorf("search of HOST/TERM: %+v", out)
	}
}
