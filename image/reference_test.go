package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

func TestParseReference(t *testing.T) {
	const sha = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	const sha512 = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	tests := []struct {
		in, hub, path, tag, digest, familiar string
	}{
		{"welcome", DefaultHub, "library/welcome", "", "", "welcome"},
		{"welcome:1.0", DefaultHub, "library/welcome", "1.0", "", "welcome:1.0"},
		{"alice/app", DefaultHub, "alice/app", "", "", "alice/app"},
		{"localhost:5000/welcome", DefaultHub, "library/welcome", "", "", "welcome"},
		{"localhost:5000/library/welcome:latest", DefaultHub, "library/welcome", "latest", "", "welcome:latest"},
		{"127.0.0.1:5000/welcome", "127.0.0.1:5000", "welcome", "", "", "127.0.0.1:5000/welcome"},
		{"docker.io/nginx", "docker.io", "library/nginx", "", "", "docker.io/library/nginx"},
		{"index.docker.io/nginx", "docker.io", "library/nginx", "", "", "docker.io/library/nginx"},
		{"example.com/a/b/c:v1", "example.com", "a/b/c", "v1", "", "example.com/a/b/c:v1"},
		{"localhost/x", "localhost", "x", "", "", "localhost/x"},
		{"welcome@" + sha, DefaultHub, "library/welcome", "", sha, "welcome@" + sha},
		{"welcome:t@" + sha, DefaultHub, "library/welcome", "t", sha, "welcome:t@" + sha},
		{"welcome@" + sha512, DefaultHub, "library/welcome", "", sha512, "welcome@" + sha512},
		{"a_b-c/e__f.g", DefaultHub, "a_b-c/e__f.g", "", "", "a_b-c/e__f.g"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseReference(tt.in, "")
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tt.in, err)
			}
			if r.Hub != tt.hub || r.Path != tt.path || r.Tag != tt.tag || r.Digest.String() != tt.digest {
				t.Fatalf("ParseReference(%q) = %+v", tt.in, r)
			}
			if got := r.FamiliarString(""); got != tt.familiar {
				t.Errorf("FamiliarString = %q, want %q", got, tt.familiar)
			}
			again, err := ParseReference(r.String(), "")
			if err != nil || again != r {
				t.Errorf("round trip of %q: %+v, %v", r.String(), again, err)
			}
		})
	}
}

func TestParseReferenceOtherDefaultHub(t *testing.T) {
	r, err := ParseReference("nginx", "hub.example:8443")
	if err != nil {
		t.Fatal(err)
	}
	if r.String() != "hub.example:8443/library/nginx" {
		t.Fatalf("got %s", r)
	}
	if r.WithDefaultTag().String() != "hub.example:8443/library/nginx:latest" {
		t.Fatalf("default tag: %s", r.WithDefaultTag())
	}
	if r.FamiliarName("hub.example:8443") != "nginx" || r.FamiliarName("") != "hub.example:8443/library/nginx" {
		t.Fatalf("familiar: %q %q", r.FamiliarName("hub.example:8443"), r.FamiliarName(""))
	}
}

func TestParseReferenceInvalid(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"Welcome", "must be lowercase"},
		{"alice/App:1", "must be lowercase"},
		{"welcome:", "invalid tag"},
		{"welcome:-bad", "invalid tag"},
		{"welcome:" + strings.Repeat("a", 129), "invalid tag"},
		{"welcome@sha256:abc", "invalid"},
		{"welcome@md5:0123456789abcdef0123456789abcdef", "invalid"},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "64-byte hexadecimal"},
		{"a//b", "invalid reference format"},
		{"/a", "invalid reference format"},
		{"a/", "invalid reference format"},
		{"a b", "invalid reference format"},
		{strings.Repeat("a/", 130) + "a", "must not be more than"},
		{"-a", "invalid reference format"},
	}
	for _, tt := range tests {
		_, err := ParseReference(tt.in, "")
		if err == nil {
			t.Errorf("ParseReference(%q) succeeded", tt.in)
			continue
		}
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseReference(%q): %v is not ErrInvalid", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseReference(%q) = %q, want it to mention %q", tt.in, err, tt.want)
		}
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"welcome", "a/b:c", "localhost:5000/x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "UPPER", "x:", "::", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s, "")
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("%q: error %v is not ErrInvalid", s, err)
			}
			return
		}
		// A parsed reference prints to a string that parses to itself.
		again, err := ParseReference(r.String(), "")
		if err != nil || again != r {
			t.Fatalf("%q -> %q -> %+v, %v", s, r.String(), again, err)
		}
		if r.Hub == "" || r.Path == "" {
			t.Fatalf("%q parsed with empty hub or path: %+v", s, r)
		}
	})
}
