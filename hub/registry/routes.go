package registry

import (
	"strings"
)

// route is a parsed /v2/ path.
type route struct {
	kind string // "ping", "catalog", "tags", "manifest", "blob", "upload", "referrers"
	name string // as in the URL
	ref  string // tag or digest, blob digest, upload ID
}

// parseV2 splits a /v2/ path. Names contain slashes, so the operation is
// found from the end.
func parseV2(p string) (route, bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		if p == "/v2" {
			return route{kind: "ping"}, true
		}
		return route{}, false
	}
	if rest == "" {
		return route{kind: "ping"}, true
	}
	if rest == "_catalog" {
		return route{kind: "catalog"}, true
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return route{kind: "tags", name: name}, true
	}
	if i := strings.LastIndex(rest, "/manifests/"); i > 0 {
		return route{kind: "manifest", name: rest[:i], ref: rest[i+len("/manifests/"):]}, true
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads/"); ok {
		return route{kind: "upload", name: name}, true
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads"); ok {
		return route{kind: "upload", name: name}, true
	}
	if i := strings.LastIndex(rest, "/blobs/uploads/"); i > 0 {
		return route{kind: "upload", name: rest[:i], ref: rest[i+len("/blobs/uploads/"):]}, true
	}
	if i := strings.LastIndex(rest, "/blobs/"); i > 0 {
		return route{kind: "blob", name: rest[:i], ref: rest[i+len("/blobs/"):]}, true
	}
	if i := strings.LastIndex(rest, "/referrers/"); i > 0 {
		return route{kind: "referrers", name: rest[:i], ref: rest[i+len("/referrers/"):]}, true
	}
	return route{}, false
}
