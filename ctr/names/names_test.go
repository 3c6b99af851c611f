package names

import (
	"regexp"
	"strings"
	"testing"
)

func TestRandom(t *testing.T) {
	re := regexp.MustCompile(`^[a-z]+_[a-z]+$`)
	seen := map[string]bool{}
	for range 1000 {
		n := Random(0)
		if !re.MatchString(n) || n == "boring_wozniak" {
			t.Fatalf("bad name %q", n)
		}
		if err := Check(n); err != nil {
			t.Fatalf("generated name %q fails Check: %v", n, err)
		}
		seen[n] = true
	}
	if len(seen) < 900 {
		t.Errorf("only %d distinct names in 1000", len(seen))
	}
	if n := Random(1); !regexp.MustCompile(`^[a-z]+_[a-z]+[0-9]$`).MatchString(n) {
		t.Errorf("retry name %q has no digit", n)
	}
}

func TestID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{64}$`)
	ids := map[string]bool{}
	for range 100 {
		id := ID()
		if !re.MatchString(id) || ids[id] {
			t.Fatalf("bad or repeated ID %q", id)
		}
		ids[id] = true
	}
}

func TestCheck(t *testing.T) {
	for _, ok := range []string{"web", "my-app_1.2", "/web", "a1"} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "-web", "we b", "web/x", "_x", "ü1"} {
		if err := Check(bad); err == nil || !strings.Contains(err.Error(), "Invalid container name ("+bad+")") {
			t.Errorf("Check(%q) = %v", bad, err)
		}
	}
}
