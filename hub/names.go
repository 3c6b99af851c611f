package hub

import (
	"regexp"
	"strings"

	"github.com/berth-dev/berth/image"
)

// nameRE is the spec's repository name grammar.
var nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

func validName(name string) bool { return len(name) <= 255 && nameRE.MatchString(name) }

// canonical is the stored name: "welcome" and "library/welcome" are one
// repository, as on Docker Hub, because the docker CLI asks any registry but
// docker.io for "welcome" as written.
func canonical(name string) string {
	if !strings.Contains(name, "/") {
		return image.OfficialNamespace + "/" + name
	}
	return name
}

// displayName is how a repository is listed: official ones by short name.
func displayName(name string) string {
	if rest, ok := strings.CutPrefix(name, image.OfficialNamespace+"/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return name
}

// namespace is the account that owns a repository: its first component.
func namespace(name string) string {
	ns, _, _ := strings.Cut(canonical(name), "/")
	return ns
}

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
