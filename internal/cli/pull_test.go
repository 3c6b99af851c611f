package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/hubtest"
)

var layerLine = regexp.MustCompile(`^([0-9a-f]{12}): (.*)$`)

// layerStatuses groups "ID: status" lines by layer, and returns the other
// lines in order.
func layerStatuses(out string) (map[string][]string, []string) {
	layers := map[string][]string{}
	var rest []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if m := layerLine.FindStringSubmatch(l); m != nil {
			layers[m[1]] = append(layers[m[1]], m[2])
			continue
		}
		rest = append(rest, l)
	}
	return layers, rest
}

func TestPullPushSearchLoginAsDocker(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true})
	h.AddUser(t, "alice", "s3cret-pw")
	cfgPath := filepath.Join(t.TempDir(), "berth", "config.json")
	t.Setenv("BERTH_CONFIG", cfgPath)
	b := newBerth(t)
	hub := []string{"--hub", h.Host}

	out := b.run(append(hub, "pull", "welcome")...)
	layers, rest := layerStatuses(out)
	if len(layers) != 3 {
		t.Fatalf("pull showed %d layers:\n%s", len(layers), out)
	}
	for id, st := range layers {
		if strings.Join(st, "|") != "Pulling fs layer|Verifying Checksum|Download complete|Pull complete" {
			t.Errorf("layer %s: %q", id, st)
		}
	}
	if len(rest) != 5 || rest[0] != "Using default tag: latest" || rest[1] != "latest: Pulling from library/welcome" ||
		!strings.HasPrefix(rest[2], "Digest: sha256:") || rest[3] != "Status: Downloaded newer image for welcome:latest" ||
		rest[4] != h.Host+"/library/welcome:latest" {
		t.Errorf("pull output:\n%s", out)
	}
	digestLine := rest[2]
	out = b.run(append(hub, "pull", "welcome")...)
	want := "Using default tag: latest\nlatest: Pulling from library/welcome\n" + digestLine + "\nStatus: Image is up to date for welcome:latest\n" + h.Host + "/library/welcome:latest\n"
	if out != want {
		t.Errorf("second pull:\n%s\nwant:\n%s", out, want)
	}
	if out := b.run(append(hub, "pull", "-q", "library/welcome:latest")...); out != h.Host+"/library/welcome:latest\n" {
		t.Errorf("pull -q: %q", out)
	}
	if out := b.run(append(hub, "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")...); out != "welcome latest "+strings.TrimPrefix(digestLine, "Digest: ")+"\n" {
		t.Errorf("images after pull: %q", out)
	}
	if out := b.run("system", "check"); !strings.Contains(out, " 0 problems") {
		t.Errorf("system check: %s", out)
	}
	_, errs, code := b.try("", append(hub, "pull", "nothere")...)
	if code != 1 || !strings.Contains(errs, "Error: manifest for nothere:latest not found: manifest unknown") {
		t.Errorf("pull of a missing image: %d %q", code, errs)
	}

	// Search, as Docker prints it.
	out = b.run(append(hub, "search", "welcome")...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 || strings.Join(headerOf(out), "|") != "NAME|DESCRIPTION|STARS|OFFICIAL" {
		t.Fatalf("search:\n%s", out)
	}
	row := columnGap.Split(strings.TrimSpace(lines[1]), -1)
	if len(row) != 4 || row[0] != "welcome" || len([]rune(row[1])) != 45 || !strings.HasSuffix(row[1], "…") || row[2] != "42" || row[3] != "[OK]" {
		t.Errorf("search row %q", row)
	}
	out = b.run(append(hub, "search", "--no-trunc", "--format", "{{.Name}}|{{.Description}}|{{.IsOfficial}}|{{.Badge}}", "welcome")...)
	if !strings.HasPrefix(out, "welcome|") || !strings.HasSuffix(out, "|[OK]|Official Image\n") || len([]rune(out)) < 60 {
		t.Errorf("search --format: %q", out)
	}
	out = b.run(append(hub, "search", "--format", "json", "welcome")...)
	var js map[string]string
	if err := json.Unmarshal([]byte(out), &js); err != nil || js["IsOfficial"] != "true" || js["StarCount"] != "42" || js["Name"] != "welcome" {
		t.Errorf("search json: %q %v", out, err)
	}
	if out := b.run(append(hub, "search", "--filter", "is-official=false", "welcome")...); strings.Count(out, "\n") != 1 {
		t.Errorf("filtered search: %q", out)
	}
	if _, errs, code := b.try("", append(hub, "search", "--limit", "0", "--filter", "shape=round", "welcome")...); code != 1 || errs != "Error: invalid filter 'shape'\n" {
		t.Errorf("bad filter: %d %q", code, errs)
	}

	// Push needs a login; the password never shows.
	b.run(append(hub, "tag", "welcome", h.Host+"/alice/web:v1")...)
	_, errs, code = b.try("", append(hub, "push", h.Host+"/alice/web:v1")...)
	if code != 1 || !strings.Contains(errs, "unauthorized") {
		t.Errorf("anonymous push: %d %q", code, errs)
	}
	stdout, errs, code := b.try("wrong\n", append(hub, "login", "-u", "alice", "--password-stdin")...)
	if code != 1 || !strings.Contains(errs, "incorrect username or password") || stdout != "" {
		t.Errorf("login with a wrong password: %d %q %q", code, stdout, errs)
	}
	if _, err := os.Stat(cfgPath); err == nil {
		t.Error("a failed login wrote the config")
	}
	stdout, errs, code = b.try("s3cret-pw\n", append(hub, "login", "-u", "alice", "--password-stdin")...)
	if code != 0 || stdout != "Login Succeeded\n" || strings.Contains(errs, "s3cret") {
		t.Errorf("login: %d %q %q", code, stdout, errs)
	}
	fi, err := os.Stat(cfgPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config: %v %v", fi, err)
	}
	raw, _ := os.ReadFile(cfgPath)
	if strings.Contains(string(raw), "s3cret") || !strings.Contains(string(raw), `"`+h.Host+`"`) {
		t.Errorf("config holds %s", raw)
	}
	_, errs, code = b.try("", append(hub, "login", "--password-stdin")...)
	if code != 1 || errs != "Error: Must provide --username with --password-stdin\n" {
		t.Errorf("--password-stdin without -u: %d %q", code, errs)
	}

	out = b.run(append(hub, "push", h.Host+"/alice/web:v1")...)
	layers, rest = layerStatuses(out)
	if len(rest) != 2 || rest[0] != "The push refers to repository ["+h.Host+"/alice/web]" || rest[1] != "v1: digest: "+strings.TrimPrefix(digestLine, "Digest: ")+" size: "+rest[1][strings.LastIndex(rest[1], " ")+1:] {
		t.Errorf("push output:\n%s", out)
	}
	for id, st := range layers {
		if strings.Join(st, "|") != "Preparing|Mounted from library/welcome" {
			t.Errorf("push of layer %s: %q", id, st)
		}
	}
	if out := b.run(append(hub, "push", "-q", h.Host+"/alice/web:v1")...); out != h.Host+"/alice/web:v1\n" {
		t.Errorf("push -q: %q", out)
	}
	b.run(append(hub, "tag", "welcome", h.Host+"/alice/web:v2")...)
	if out := b.run(append(hub, "push", "-q", "--all-tags", h.Host+"/alice/web")...); out != h.Host+"/alice/web\n" {
		t.Errorf("push --all-tags: %q", out)
	}
	fresh := newBerth(t)
	out = fresh.run(append(hub, "pull", "--all-tags", h.Host+"/alice/web")...)
	if !strings.Contains(out, "v1: Pulling from alice/web\n") || !strings.Contains(out, "v2: Pulling from alice/web\n") || !strings.HasSuffix(out, "\n"+h.Host+"/alice/web\n") {
		t.Errorf("pull --all-tags:\n%s", out)
	}
	out = b.run(append(hub, "logout")...)
	if out != "Removing login credentials for "+h.Host+"\n" {
		t.Errorf("logout: %q", out)
	}
	if out := b.run(append(hub, "logout")...); out != "Not logged in to "+h.Host+"\n" {
		t.Errorf("second logout: %q", out)
	}
}
