package registry

import (
	"strings"
	"testing"
)

func TestParseV2(t *testing.T) {
	tests := []struct {
		path string
		want route
		ok   bool
	}{
		{"/v2/", route{kind: "ping"}, true},
		{"/v2", route{kind: "ping"}, true},
		{"/v2/_catalog", route{kind: "catalog"}, true},
		{"/v2/a/b/tags/list", route{kind: "tags", name: "a/b"}, true},
		{"/v2/welcome/manifests/latest", route{kind: "manifest", name: "welcome", ref: "latest"}, true},
		{"/v2/a/manifests/b/manifests/v1", route{kind: "manifest", name: "a/manifests/b", ref: "v1"}, true},
		{"/v2/a/b/blobs/sha256:abc", route{kind: "blob", name: "a/b", ref: "sha256:abc"}, true},
		{"/v2/a/b/blobs/uploads/", route{kind: "upload", name: "a/b"}, true},
		{"/v2/a/b/blobs/uploads", route{kind: "upload", name: "a/b"}, true},
		{"/v2/a/b/blobs/uploads/0123", route{kind: "upload", name: "a/b", ref: "0123"}, true},
		{"/v2/a/b/referrers/sha256:abc", route{kind: "referrers", name: "a/b", ref: "sha256:abc"}, true},
		{"/v2/alice/manifests/blobs/uploads/", route{kind: "upload", name: "alice/manifests"}, true},
		{"/v2/alice/manifests/blobs/uploads/0123", route{kind: "upload", name: "alice/manifests", ref: "0123"}, true},
		{"/v2/alice/blobs/manifests/v1", route{kind: "manifest", name: "alice/blobs", ref: "v1"}, true},
		{"/v2/alice/tags/tags/list", route{kind: "tags", name: "alice/tags"}, true},
		{"/v2/a/b", route{}, false},
		{"/v3/a/manifests/x", route{}, false},
	}
	for _, tt := range tests {
		got, ok := parseV2(tt.path)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseV2(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseV2(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/a/b/manifests/c", "/v2/x/blobs/uploads/", "/v2//tags/list", "/v2/a/referrers/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, ok := parseV2(p)
		if !ok {
			return
		}
		// What a route names is in the path, in order.
		if r.kind != "ping" && r.kind != "catalog" && !strings.Contains(p, r.name) {
			t.Fatalf("%q: name %q is not in the path", p, r.name)
		}
		if r.ref != "" && !strings.HasSuffix(p, r.ref) {
			t.Fatalf("%q: ref %q is not its end", p, r.ref)
		}
		// The route puts the path back together: name, operation, ref,
		// and a ref has no slash.
		ops := map[string]string{"tags": "/tags/list", "manifest": "/manifests/", "blob": "/blobs/", "upload": "/blobs/uploads/", "referrers": "/referrers/"}
		if op, ok := ops[r.kind]; ok {
			back := "/v2/" + r.name + op + r.ref
			if strings.Contains(r.ref, "/") || (back != p && back != p+"/") {
				t.Fatalf("%q: %+v puts back as %q", p, r, back)
			}
		}
	})
}

func TestParseContentRange(t *testing.T) {
	for _, tt := range []struct {
		in         string
		start, end int64
		ok         bool
	}{
		{"0-99", 0, 99, true},
		{"bytes 100-199/*", 100, 199, true},
		{"5-4", 0, 0, false},
		{"-1-3", 0, 0, false},
		{"abc", 0, 0, false},
		{"1-", 0, 0, false},
	} {
		s, e, ok := parseContentRange(tt.in)
		if ok != tt.ok || ok && (s != tt.start || e != tt.end) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", tt.in, s, e, ok)
		}
	}
}
