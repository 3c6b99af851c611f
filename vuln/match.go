package vuln

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/vuln/osv"
	"github.com/berth-dev/berth/vuln/version"
)

// Finding is one advisory that affects one package of an image.
type Finding struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"`
	Summary   string   `json:"summary,omitempty"`
	Severity  Severity `json:"severity"`
	CVSSScore float64  `json:"cvssScore,omitempty"`
	// Package is the affected package as the inventory found it.
	Package sbom.Package `json:"package"`
	// Installed is the version the advisory was checked against: the
	// package's, or its source package's when the advisory names the source.
	Installed string   `json:"installed"`
	FixedIn   []string `json:"fixedIn,omitempty"`
	// Ecosystem and MatchedName are how the advisory names the package.
	Ecosystem   string `json:"ecosystem"`
	MatchedName string `json:"matchedName"`
}

// Result is the outcome of matching an inventory against the database.
type Result struct {
	Findings []Finding `json:"findings"`
	// Warnings are advisories or packages whose versions could not be
	// compared; they did not stop the matching.
	Warnings []string `json:"warnings,omitempty"`
}

// query is one (name, version) pair to look up, in the way an ecosystem's
// advisories name a package.
type query struct {
	name, version string
}

// target is how the database names a package: the ecosystem (base name and
// release) and the names to look up.
type target struct {
	base, release string
	queries       []query
}

// distroEcosystem names the OSV ecosystem of a distro: its base name and the
// release suffix its advisories carry ("Debian", "12" for "Debian:12").
func distroEcosystem(d *sbom.Distro) (base, release string) {
	if d == nil {
		return "", ""
	}
	major, _, _ := strings.Cut(d.VersionID, ".")
	switch d.ID {
	case "debian":
		return "Debian", d.VersionID
	case "ubuntu":
		return "Ubuntu", d.VersionID
	case "alpine":
		parts := strings.Split(d.VersionID, ".")
		if len(parts) >= 2 {
			return "Alpine", "v" + parts[0] + "." + parts[1]
		}
		return "Alpine", ""
	case "wolfi":
		return "Wolfi", ""
	case "chainguard":
		return "Chainguard", ""
	case "almalinux":
		return "AlmaLinux", major
	case "rocky":
		return "Rocky Linux", major
	case "rhel":
		return "Red Hat", "enterprise_linux:" + major
	case "mageia":
		return "Mageia", d.VersionID
	case "photon":
		return "Photon OS", d.VersionID
	case "azurelinux":
		return "Azure Linux", major
	case "mariner":
		return "CBL-Mariner", d.VersionID
	case "opensuse-leap", "opensuse-tumbleweed", "opensuse":
		return "openSUSE", ""
	case "sles", "sled", "sle-micro":
		return "SUSE", ""
	}
	return "", ""
}

// ecosystemMatches reports whether an advisory's ecosystem applies: the
// plain base name applies to every release, "Base:release" and
// "Base:release:..." (Ubuntu's "Ubuntu:22.04:LTS") to that release.
func ecosystemMatches(adv, base, release string) bool {
	if adv == base {
		return true
	}
	if release == "" {
		return false
	}
	rest, ok := strings.CutPrefix(adv, base+":")
	return ok && (rest == release || strings.HasPrefix(rest, release+":"))
}

func targetFor(p *sbom.Package, d *sbom.Distro) (target, bool) {
	var t target
	switch p.Type {
	case sbom.TypeDeb, sbom.TypeAPK, sbom.TypeRPM:
		t.base, t.release = distroEcosystem(d)
		if t.base == "" {
			return t, false
		}
		t.queries = []query{{p.Name, p.Version}}
		if p.Source != "" && p.Source != p.Name {
			v := p.SourceVersion
			if v == "" || p.Type == sbom.TypeRPM {
				// rpm advisories give binary EVRs; a source rpm's version lacks the epoch
				v = p.Version
			}
			t.queries = append(t.queries, query{p.Source, v})
		}
	case sbom.TypeGo:
		t.base = "Go"
		switch {
		case p.Name == sbom.GoStdlib:
			t.queries = []query{{"stdlib", version.GoStdlib(p.Version)}}
		case p.Version == "" || p.Version == "(devel)":
			return t, false
		default:
			t.queries = []query{{p.Name, p.Version}}
		}
	case sbom.TypePython:
		t.base = "PyPI"
		t.queries = []query{{sbom.NormalizePyPI(p.Name), p.Version}}
	case sbom.TypeNPM:
		t.base = "npm"
		t.queries = []query{{p.Name, p.Version}}
	case sbom.TypeMaven:
		if !strings.Contains(p.Name, ":") {
			return t, false // advisories name group:artifact
		}
		t.base = "Maven"
		t.queries = []query{{p.Name, p.Version}}
	case sbom.TypeCargo:
		t.base = "crates.io"
		t.queries = []query{{p.Name, p.Version}}
	default:
		return t, false
	}
	return t, true
}

// Ecosystems lists the OSV ecosystems (export names) an inventory needs,
// the default set for Update.
func Ecosystems(s *sbom.SBOM) []string {
	set := map[string]bool{}
	for i := range s.Packages {
		if t, ok := targetFor(&s.Packages[i], s.Distro); ok {
			set[t.base] = true
		}
	}
	out := make([]string, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// Match checks every package of the inventory against the database.
func Match(ctx context.Context, db *DB, s *sbom.SBOM) (*Result, error) {
	res := &Result{Findings: []Finding{}}
	advisories := map[string]*osv.Advisory{}
	warned := map[string]bool{}
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if !warned[msg] {
			warned[msg] = true
			res.Warnings = append(res.Warnings, msg)
		}
	}
	osPackages := false
	for i := range s.Packages {
		p := &s.Packages[i]
		t, ok := targetFor(p, s.Distro)
		if !ok {
			if p.Type == sbom.TypeDeb || p.Type == sbom.TypeAPK || p.Type == sbom.TypeRPM {
				osPackages = true
			}
			continue
		}
		seen := map[string]int{} // advisory id → index in res.Findings for this package
		for _, q := range t.queries {
			entries, err := db.lookup(ctx, q.name)
			if err != nil {
				return nil, fmt.Errorf("vulnerability database: %w", err)
			}
			for _, e := range entries {
				if !ecosystemMatches(e.eco, t.base, t.release) {
					continue
				}
				a := advisories[e.advisory]
				if a == nil {
					if a, err = db.advisory(ctx, e.advisory); err != nil {
						return nil, err
					}
					advisories[e.advisory] = a
				}
				if e.idx >= len(a.Affected) {
					continue
				}
				af := &a.Affected[e.idx]
				scheme, err := version.ForEcosystem(e.eco)
				if err != nil {
					warn("%s: %v", a.ID, err)
					continue
				}
				verdict, err := osv.Evaluate(af, q.version, version.SemVer.Parser(), scheme.Parser())
				if err != nil {
					warn("%s on %s %s: %v", a.ID, q.name, q.version, err)
				}
				if !verdict.Affected {
					continue
				}
				if j, ok := seen[a.ID]; ok {
					f := &res.Findings[j]
					for _, v := range verdict.FixedIn {
						if !slices.Contains(f.FixedIn, v) {
							f.FixedIn = append(f.FixedIn, v)
						}
					}
					continue
				}
				sev, score := Rate(a, af)
				seen[a.ID] = len(res.Findings)
				res.Findings = append(res.Findings, Finding{
					ID: a.ID, Aliases: a.Aliases, Summary: a.Summary,
					Severity: sev, CVSSScore: score,
					Package: *p, Installed: q.version, FixedIn: verdict.FixedIn,
					Ecosystem: e.eco, MatchedName: q.name,
				})
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if osPackages {
		warn("OS packages not matched: the image's distro (%s) has no known advisory ecosystem", distroName(s.Distro))
	}
	slices.SortFunc(res.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Package.Name, b.Package.Name),
			cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package.Path, b.Package.Path))
	})
	return res, nil
}

func distroName(d *sbom.Distro) string {
	if d == nil {
		return "no /etc/os-release"
	}
	if d.VersionID != "" {
		return d.ID + " " + d.VersionID
	}
	return d.ID
}
