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

// FuzzNames: a valid name's stored form is valid and at most 255 bytes,
// is its own stored form, lists back to a name with the same stored form,
// and has its namespace as its first component.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"welcome", "library/welcome", "alice/manifests", "a/b/c", strings.Repeat("a", 248), "a__b/c-d.e", "A", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !Valid(name) {
			return
		}
		c := Canonical(name)
		if !Valid(c) || len(c) > 255 || Canonical(c) != c {
			t.Fatalf("%q: stored form %q", name, c)
		}
		if Canonical(Display(c)) != c {
			t.Fatalf("%q: listed as %q, stored again as %q", name, Display(c), Canonical(Display(c)))
		}
		if ns := Namespace(name); ns == "" || !strings.HasPrefix(c, ns+"/") {
			t.Fatalf("%q: namespace %q of %q", name, ns, c)
		}
	})
}
