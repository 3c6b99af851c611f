// Package names holds the hub's rules for repository names: the spec's
// grammar, the stored (canonical) form, the listed form and the owning
// namespace. Every part of the hub that takes a name from a request uses
// these, so "welcome" and "library/welcome" are one repository everywhere.
package names

import (
	"regexp"
	"strings"

	"github.com/berth-dev/berth/image"
)

// nameRE is the spec's repository name grammar.
var nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

// accountRE is the grammar of user and organisation names.
var accountRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|[._-][a-z0-9]){1,38}$`)

// ValidAccount reports whether name is 2 to 39 lowercase letters, digits
// and single separators: a user or organisation name.
func ValidAccount(name string) bool { return accountRE.MatchString(name) }

// Valid reports whether name follows the spec's grammar and length. The
// length is the stored name's: "welcome" is stored as library/welcome, so a
// short name of 248 characters or more has no stored form.
func Valid(name string) bool { return len(Canonical(name)) <= 255 && nameRE.MatchString(name) }

// Canonical is the stored name: "welcome" and "library/welcome" are one
// repository, as on Docker Hub, because the docker CLI asks any registry but
// docker.io for "welcome" as written.
func Canonical(name string) string {
	if !strings.Contains(name, "/") {
		return image.OfficialNamespace + "/" + name
	}
	return name
}

// Display is how a repository is listed: official ones by short name.
func Display(name string) string {
	if rest, ok := strings.CutPrefix(name, image.OfficialNamespace+"/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return name
}

// Namespace is the account that owns a repository: its first component.
func Namespace(name string) string {
	ns, _, _ := strings.Cut(Canonical(name), "/")
	return ns
}
