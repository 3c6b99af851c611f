package sbom

import (
	"regexp"
	"slices"
	"strings"
)

var (
	copyrightLicense = regexp.MustCompile(`(?m)^License:\s*(\S+)`)
	commonLicense    = regexp.MustCompile(`/usr/share/common-licenses/([0-9A-Za-z_.+\-]+)`)
)

// parseDebCopyright lists the licenses a package's
// /usr/share/doc/<package>/copyright names: the License: fields of a
// machine-readable (DEP-5) file, and the files of /usr/share/common-licenses
// that free-form ones point to. dpkg's database records no license; this
// file is where Debian records it.
func parseDebCopyright(b []byte) []string {
	set := map[string]bool{}
	for _, m := range copyrightLicense.FindAllSubmatch(b, -1) {
		set[strings.TrimSuffix(string(m[1]), ",")] = true
	}
	for _, m := range commonLicense.FindAllSubmatch(b, -1) {
		set[strings.TrimRight(string(m[1]), ".")] = true
	}
	out := make([]string, 0, len(set))
	for l := range set {
		if l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}
