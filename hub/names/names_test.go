package names

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tt := range []struct{ in, canon, display, ns string }{
		{"welcome", "library/welcome", "welcome", "library"},
		{"library/welcome", "library/welcome", "welcome", "library"},
		{"library/a/b", "library/a/b", "library/a/b", "library"},
		{"alice/app", "alice/app", "alice/app", "alice"},
	} {
		if c, d, n := Canonical(tt.in), Display(Canonical(tt.in)), Namespace(tt.in); c != tt.canon || d != tt.display || n != tt.ns {
			t.Errorf("%q: canonical %q display %q namespace %q", tt.in, c, d, n)
		}
	}
	for _, bad := range []string{"", "A/b", "a//b", "a/", "-a", "a" + strings.Repeat("/b", 200), strings.Repeat("a", 248)} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}
