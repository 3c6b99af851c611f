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

// refRoutes are the operations that end in a reference, by the path part
// before it.
var refRoutes = []struct{ suffix, kind string }{
	{"/manifests", "manifest"},
	{"/blobs/uploads", "upload"},
	{"/blobs", "blob"},
	{"/referrers", "referrers"},
}

// parseV2 splits a /v2/ path by the spec's grammar: names contain slashes
// and may have components such as "manifests" or "blobs", but no tag,
// digest or upload ID has a slash. So the operation is the last one or two
// components, and the name everything before: alice/manifests can take
// uploads like any other repository.
func parseV2(p string) (route, bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	switch {
	case !ok && p == "/v2", ok && rest == "":
		return route{kind: "ping"}, true
	case !ok:
		return route{}, false
	case rest == "_catalog":
		return route{kind: "catalog"}, true
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok && name != "" {
		return route{kind: "tags", name: name}, true
	}
	if name, ok := strings.CutSuffix(strings.TrimSuffix(rest, "/"), "/blobs/uploads"); ok && name != "" {
		return route{kind: "upload", name: name}, true
	}
	i := strings.LastIndex(rest, "/")
	if i < 0 {
		return route{}, false
	}
	head, ref := rest[:i], rest[i+1:]
	for _, rr := range refRoutes {
		if name, ok := strings.CutSuffix(head, rr.suffix); ok && name != "" {
			return route{kind: rr.kind, name: name, ref: ref}, true
		}
	}
	return route{}, false
}
