package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripKeepsOtherKeysAndMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	orig := `{"auths":{"https://other.example/v1/":{"auth":"dTpw"}},"credsStore":"","psFormat":"table {{.ID}}","insecure-registries":["10.0.0.0/8"]}`
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, p, ok := f.Credentials("other.example"); !ok || u != "u" || p != "p" {
		t.Fatalf("URL-keyed entry: %q %q %v", u, p, ok)
	}
	if len(f.Insecure) != 1 || f.Insecure[0] != "10.0.0.0/8" {
		t.Fatalf("insecure: %v", f.Insecure)
	}
	f.SetCredentials("localhost:5000", "alice", "s3:cr:et")
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["psFormat"]) != `"table {{.ID}}"` {
		t.Errorf("unknown key lost: %s", raw)
	}
	var auths map[string]map[string]string
	if err := json.Unmarshal(m["auths"], &auths); err != nil || auths["localhost:5000"]["auth"] != "YWxpY2U6czM6Y3I6ZXQ=" {
		t.Errorf("auths not in Docker's shape: %s", m["auths"])
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, p, ok := g.Credentials("localhost:5000"); !ok || u != "alice" || p != "s3:cr:et" {
		t.Errorf("read back %q %q %v", u, p, ok)
	}
	if !g.RemoveCredentials("other.example") || g.RemoveCredentials("other.example") {
		t.Error("RemoveCredentials should report the first removal only")
	}
	if _, _, ok := g.Credentials("other.example"); ok {
		t.Error("credentials still there after removal")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestMissingAndBadFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := Load(filepath.Join(dir, "nope.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := f.Credentials("localhost:5000"); ok {
		t.Error("credentials from a missing file")
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"auths": [1]}`), 0o600)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "auths") {
		t.Errorf("bad auths: %v", err)
	}
	// The new file's directory is created private.
	f.path = filepath.Join(dir, "new", "config.json")
	f.SetCredentials("h:1", "u", "p")
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "new"))
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", fi.Mode().Perm())
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:5000":              "localhost:5000",
		"http://localhost:5000/v2/":   "localhost:5000",
		"https://Registry.Example/v1": "registry.example",
		" 127.0.0.1:5000 ":            "127.0.0.1:5000",
	} {
		if got := NormalizeHost(in); got != want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}
