package report

import (
	"slices"
	"strings"

	"github.com/berth-dev/berth/vuln"
)

// Selection is what `berth image cves` keeps of the findings, with the
// --only-* flags of `docker scout cves`. The zero value keeps everything.
type Selection struct {
	Severities []vuln.Severity // --only-severity
	Fixed      bool            // --only-fixed: a fixed version exists
	Unfixed    bool            // --only-unfixed: no fixed version yet
	// PackageTypes are purl types (deb, apk, golang, npm...): --only-package-type.
	PackageTypes []string
	// Packages are package names: --only-package.
	Packages []string
	// IDs are advisory IDs or aliases (CVE-2024-1234): --only-cve-id.
	IDs []string
}

// Select keeps the findings that pass every filter of s.
func (s Selection) Select(fs []vuln.Finding) []vuln.Finding {
	out := []vuln.Finding{}
	for _, f := range Filter(fs, s.Severities) {
		if s.keep(f) {
			out = append(out, f)
		}
	}
	return out
}

func (s Selection) keep(f vuln.Finding) bool {
	if s.Fixed && len(f.FixedIn) == 0 || s.Unfixed && len(f.FixedIn) > 0 {
		return false
	}
	if len(s.PackageTypes) > 0 && !slices.Contains(s.PackageTypes, string(f.Package.Type)) {
		return false
	}
	if len(s.Packages) > 0 && !slices.Contains(s.Packages, f.Package.Name) && !slices.Contains(s.Packages, f.MatchedName) {
		return false
	}
	if len(s.IDs) > 0 && !slices.ContainsFunc(s.IDs, func(id string) bool {
		return strings.EqualFold(id, f.ID) || slices.ContainsFunc(f.Aliases, func(a string) bool { return strings.EqualFold(id, a) })
	}) {
		return false
	}
	return true
}
