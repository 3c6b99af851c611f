package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/ui"
)

// TestSameInputSameErrorCLIAndDashboard: the engine parses and checks
// filters and container settings once, so the same bad input typed in
// the CLI and sent to the dashboard's API gets the same message, word for
// word, and neither runs anything.
func TestSameInputSameErrorCLIAndDashboard(t *testing.T) {
	b := newBerth(t)
	e, err := engine.Open(context.Background(), engine.Options{Root: t.TempDir(), Runtime: runtimeOptions})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dash, err := ui.New(e, ui.Options{Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer dash.Close()
	srv := httptest.NewServer(dash)
	defer srv.Close()

	// run is a bad setting as run's flags and as the Run dialog's JSON.
	type run struct {
		flags []string
		form  string
	}
	tests := []struct {
		name   string
		ps     string // a ps --filter value, also GET /api/containers?filter=
		images string // an images --filter value, also GET /api/images?filter=
		run    *run
		want   string
	}{
		{name: "unknown container filter", ps: "colour=red", want: "Invalid filter 'colour'"},
		{name: "bad status", ps: "status=bogus", want: "Invalid filter 'status=bogus'"},
		{name: "bad exit code", ps: "exited=x", want: "Invalid filter 'exited=x'"},
		{name: "bad name pattern", ps: "name=[", want: "Invalid filter 'name=['"},
		{name: "filter without a value", ps: "running", want: "bad format of filter (expected name=value)"},
		{name: "unknown image filter", images: "colour=red", want: "invalid filter 'colour'"},
		{name: "bad dangling", images: "dangling=maybe", want: "invalid filter 'dangling=maybe'"},
		{name: "env without a name", run: &run{[]string{"-e", "=1"}, `{"image":"img","env":["=1"]}`}, want: "invalid environment variable: =1"},
		{name: "env name with a space", run: &run{[]string{"-e", "A B=1"}, `{"image":"img","env":["A B=1"]}`}, want: "invalid environment variable: A B=1"},
		{name: "bad container port", run: &run{[]string{"-p", "0:abc/tcp"}, `{"image":"img","ports":[{"container":"abc/tcp","host":"0"}]}`}, want: "invalid containerPort: abc"},
		{name: "port out of range", run: &run{[]string{"-p", "8080:70000"}, `{"image":"img","ports":[{"container":"70000","host":"8080"}]}`}, want: "invalid containerPort: 70000"},
		{name: "bad protocol", run: &run{[]string{"-p", "0:80/sctp"}, `{"image":"img","ports":[{"container":"80/sctp","host":"0"}]}`}, want: "invalid proto: sctp"},
		{name: "relative volume", run: &run{[]string{"-v", "data:relative"}, `{"image":"img","volumes":["data:relative"]}`}, want: "invalid volume specification: 'data:relative': invalid mount config: invalid mount path: 'relative' mount path must be absolute"},
		{name: "bad name", run: &run{[]string{"--name", "bad name"}, `{"image":"img","name":"bad name"}`}, want: "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			var cliMsg string
			var resp *http.Response
			switch {
			case tt.ps != "":
				args = []string{"ps", "--filter", tt.ps}
				resp = dashRequest(t, srv, "GET", "/api/containers?filter="+url.QueryEscape(tt.ps), "")
			case tt.images != "":
				args = []string{"images", "--filter", tt.images}
				resp = dashRequest(t, srv, "GET", "/api/images?filter="+url.QueryEscape(tt.images), "")
			default:
				args = append(append([]string{"run"}, tt.run.flags...), "img")
				resp = dashRequest(t, srv, "POST", "/api/containers", tt.run.form)
			}
			_, stderr, code := b.try("", args...)
			if tt.run != nil {
				cliMsg = strings.TrimSuffix(strings.TrimPrefix(stderr, "berth: "), ".\nSee 'berth run --help'.\n")
				if code != 125 {
					t.Errorf("berth %s: exit %d, want 125", strings.Join(args, " "), code)
				}
			} else {
				cliMsg = strings.TrimSuffix(strings.TrimPrefix(stderr, "Error: "), "\n")
				if code != 1 {
					t.Errorf("berth %s: exit %d, want 1", strings.Join(args, " "), code)
				}
			}
			var body struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if cliMsg != tt.want || body.Error != tt.want {
				t.Errorf("CLI said %q (stderr %q), dashboard %q; want both %q", cliMsg, stderr, body.Error, tt.want)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("dashboard status %d, want 400", resp.StatusCode)
			}
		})
	}
}

// dashRequest sends a request to the dashboard with its token.
func dashRequest(t *testing.T, srv *httptest.Server, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer t")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
