package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCLI runs berth with args and stdin, returning stdout, stderr and the
// exit code.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errb)
	defer a.close()
	root := a.rootCommand()
	root.SetArgs(args)
	code := 0
	if err := root.Execute(); err != nil {
		code = a.report(err)
	}
	return out.String(), errb.String(), code
}

func TestHubOperatorCommands(t *testing.T) {
	root := t.TempDir()
	steps := []struct {
		stdin string
		args  []string
		code  int
		out   string
	}{
		{"secret\n", []string{"hub", "user", "add", "alice", "--root", root}, 0, "alice\n"},
		{"secret\n", []string{"hub", "user", "add", "admin", "--admin", "--root", root}, 0, "admin\n"},
		{"x\n", []string{"hub", "user", "add", "alice", "--root", root}, 1, ""},
		{"", []string{"hub", "user", "add", "bob", "--root", root}, 1, ""},
		{"x\n", []string{"hub", "user", "add", "Bad Name", "--root", root}, 1, ""},
		{"x\n", []string{"hub", "user", "add", "library", "--root", root}, 1, ""},
		{"", []string{"hub", "org", "add", "team", "--root", root}, 0, ""},
		{"", []string{"hub", "org", "member", "add", "team", "alice", "--root", root}, 0, ""},
		{"", []string{"hub", "org", "ls", "--root", root}, 0, "team   alice"},
		{"", []string{"hub", "user", "ls", "--root", root}, 0, "admin   true"},
		{"", []string{"hub", "repo", "set", "welcome", "--badge", "official", "--description", "Hi", "--stars", "7", "--root", root}, 0, "welcome\n"},
		{"", []string{"hub", "repo", "set", "welcome", "--badge", "gold", "--root", root}, 1, ""},
		{"", []string{"hub", "repo", "set", "team/app", "--private", "--public", "--root", root}, 125, ""},
		{"# Team app\n", []string{"hub", "repo", "set", "team/app", "--private", "--full-description-file", "-", "--root", root}, 0, "team/app\n"},
		{"", []string{"hub", "repo", "ls", "--root", root}, 0, "welcome    official   7"},
		{"", []string{"hub", "user", "nope"}, 125, ""},
		{"", []string{"hub", "serve", "--bogus"}, 125, ""},
	}
	for _, s := range steps {
		out, errOut, code := runCLI(t, s.stdin, s.args...)
		if code != s.code || !strings.Contains(out, s.out) {
			t.Errorf("berth %s: exit %d, out %q, err %q; want exit %d and %q", strings.Join(s.args, " "), code, out, errOut, s.code, s.out)
		}
	}
}

func TestHubConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "hub.conf")
	if err := os.WriteFile(good, []byte("# a comment\naddr = 127.0.0.1:6000\nopen=true\n--gc-grace: 2h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var a app
	cmd := a.hubServeCommand()
	if err := cmd.ParseFlags([]string{"--addr", "127.0.0.1:7000"}); err != nil {
		t.Fatal(err)
	}
	if err := loadHubConfig(cmd, good); err != nil {
		t.Fatal(err)
	}
	get := func(c *cobra.Command, name string) string { return c.Flags().Lookup(name).Value.String() }
	if get(cmd, "addr") != "127.0.0.1:7000" || get(cmd, "open") != "true" || get(cmd, "gc-grace") != "2h0m0s" {
		t.Fatalf("flags after config: addr %s open %s gc-grace %s", get(cmd, "addr"), get(cmd, "open"), get(cmd, "gc-grace"))
	}
	bad := filepath.Join(dir, "bad.conf")
	for _, content := range []string{"nonsense\n", "color=blue\n", "gc-grace=soon\n", "config=x\n"} {
		if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := loadHubConfig(a.hubServeCommand(), bad); err == nil {
			t.Errorf("config %q accepted", content)
		}
	}
}
