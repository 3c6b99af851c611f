package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testimage"
)

// loaded returns a berth with two images loaded: alpha:1 (also alpha:latest)
// and bravo:latest, sharing a base layer.
func loaded(t *testing.T) *berthCLI {
	t.Helper()
	b := newBerth(t)
	base := testimage.Tar(testimage.File{Name: "bin/"}, testimage.File{Name: "bin/sh", Body: "#!", Mode: 0o755})
	a := testimage.RandomTar(1, 3, 1500)
	c := testimage.RandomTar(2, 2, 1000)
	archive := testimage.DockerArchive(
		testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, base, a), Layers: [][]byte{base, a}, Tags: []string{"alpha:1", "alpha:latest"}},
		testimage.ArchiveImage{Config: testimage.Config([]string{"sh", "-c", "x"}, base, c), Layers: [][]byte{base, c}, Tags: []string{"bravo"}},
	)
	p := filepath.Join(t.TempDir(), "a.tar")
	os.WriteFile(p, archive, 0o644)
	b.run("load", "-i", p)
	return b
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

func TestImagesOutput(t *testing.T) {
	empty := newBerth(t)
	if out := empty.run("images"); strings.Join(strings.Fields(out), " ") != "REPOSITORY TAG IMAGE ID CREATED SIZE" {
		t.Errorf("empty store: %q", out)
	}
	b := loaded(t)
	out := b.run("images")
	rows := lines(out)
	if len(rows) != 4 {
		t.Fatalf("images:\n%s", out)
	}
	for _, want := range []string{"alpha", "1", "4.5kB", "bravo", "latest", "2kB"} {
		if !strings.Contains(out, want) {
			t.Errorf("images output lacks %q:\n%s", want, out)
		}
	}
	if ids := lines(b.run("images", "-q")); len(ids) != 2 || len(ids[0]) != 12 {
		t.Errorf("images -q: %q", ids)
	}
	if ids := lines(b.run("images", "-q", "--no-trunc")); len(ids) != 2 || !strings.HasPrefix(ids[0], "sha256:") || len(ids[0]) != 71 {
		t.Errorf("images -q --no-trunc: %q", ids)
	}
	if got := b.run("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=alp*"); strings.Join(lines(got), ",") != "alpha:1,alpha:latest" {
		t.Errorf("reference filter: %q", got)
	}
	if got := b.run("images", "alpha:1", "--format", "{{.Repository}}:{{.Tag}}"); strings.TrimSpace(got) != "alpha:1" {
		t.Errorf("images REPOSITORY:TAG: %q", got)
	}
	if got := b.run("images", "--filter", "dangling=true", "-q"); got != "" {
		t.Errorf("dangling filter on a store with none: %q", got)
	}
	for _, l := range lines(b.run("images", "--format", "json")) {
		var row map[string]string
		if err := json.Unmarshal([]byte(l), &row); err != nil || row["ID"] == "" || row["Size"] == "" || row["Repository"] == "" {
			t.Errorf("json row %q: %v", l, err)
		}
	}
	if got := b.run("images", "--format", "table {{.Repository}}\t{{.Size}}"); lines(got)[0] != "REPOSITORY   SIZE" {
		t.Errorf("table template header: %q", lines(got)[0])
	}

	// Untagging bravo's only tag while nothing uses it deletes it; retagging
	// alpha:latest elsewhere leaves nothing dangling.
	b.run("rmi", "bravo")
	b.run("tag", "alpha:1", "moved:x")
	if got := b.run("images", "--format", "{{.Repository}}:{{.Tag}}"); strings.Join(lines(got), ",") != "alpha:1,alpha:latest,moved:x" {
		t.Errorf("after rmi and tag: %q", got)
	}
}

func TestErrorsAndExitCodes(t *testing.T) {
	b := loaded(t)
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"images", "--bogus"}, 125, "unknown flag: --bogus\nSee 'berth images --help'.\n"},
		{[]string{"rmi", "nope"}, 1, "Error: No such image: nope\n"},
		{[]string{"rmi"}, 1, `"berth rmi" requires at least 1 argument.`},
		{[]string{"image", "inspect", "nope"}, 1, "Error: No such image: nope\n"},
		{[]string{"history", "nope"}, 1, "Error: No such image: nope\n"},
		{[]string{"tag", "alpha:1", "Bad:x"}, 1, "must be lowercase"},
		{[]string{"tag", "alpha:1", "x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, 1, "refusing to create a tag with a digest reference"},
		{[]string{"images", "--filter", "colour=red"}, 1, "invalid filter 'colour'"},
		{[]string{"images", "--format", "{{.Nope"}, 125, "template parsing error"},
		{[]string{"load", "-i", "/nonexistent.tar"}, 1, "no such file or directory"},
		{[]string{"image", "nope"}, 125, "'nope' is not a berth image command"},
	}
	for _, tt := range tests {
		_, stderr, code := b.try("", tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("berth %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.stderr)
		}
	}
	// Several names: the good ones are removed, the bad ones reported, exit 1.
	out, stderr, code := b.try("", "rmi", "alpha:1", "nope")
	if code != 1 || out != "Untagged: alpha:1\n" || stderr != "Error: No such image: nope\n" {
		t.Errorf("rmi alpha:1 nope: %q %q %d", out, stderr, code)
	}
}

func TestPruneAsksFirst(t *testing.T) {
	b := loaded(t)
	out, _, code := b.try("n\n", "image", "prune", "-a")
	if code != 0 || !strings.Contains(out, "Are you sure you want to continue? [y/N]") || strings.Contains(out, "deleted") {
		t.Fatalf("prune answered n: %q", out)
	}
	if n := len(lines(b.run("images", "-q"))); n != 2 {
		t.Fatalf("images after a refused prune: %d", n)
	}
	out, _, _ = b.try("y\n", "image", "prune", "-a")
	if !strings.Contains(out, "Deleted Images:") || !strings.Contains(out, "untagged: alpha:1") || !strings.Contains(out, "Total reclaimed space: ") {
		t.Fatalf("prune answered y: %q", out)
	}
	if got := b.run("images", "-q"); got != "" {
		t.Fatalf("images after prune -a: %q", got)
	}
}

func TestHistoryAndInspectFormats(t *testing.T) {
	b := loaded(t)
	if got := lines(b.run("history", "-q", "alpha:1")); len(got) != 3 || got[1] != "<missing>" {
		t.Errorf("history -q: %q", got)
	}
	id := strings.TrimSpace(b.run("image", "inspect", "--format", "{{.Id}}", "alpha:1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("inspect --format: %q", id)
	}
	if got := strings.TrimSpace(b.run("inspect", "--format", "{{index .RepoTags 0}} {{.Config.Cmd}}", id[7:19])); got != "alpha:1 [sh]" {
		t.Errorf("inspect by short ID: %q", got)
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(b.run("image", "inspect", "alpha:1", "bravo")), &v); err != nil || len(v) != 2 {
		t.Errorf("inspect of two: %v", err)
	}
}

func TestHumanSizeAndEllipsis(t *testing.T) {
	sizes := map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 4620: "4.62kB", 1982291: "1.98MB", 29700000: "29.7MB", 999999: "1e+03kB", 1234567890: "1.23GB"}
	for n, want := range sizes {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
	if got := ellipsis("/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in /", 45); got != "/bin/sh -c #(nop) ADD file:0123456789abcdef0…" {
		t.Errorf("ellipsis = %q", got)
	}
	if ellipsis("short", 45) != "short" || ellipsis("ééééé", 3) != "éé…" {
		t.Error("ellipsis of short or multibyte text")
	}
}
