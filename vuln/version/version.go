// Package version orders versions the way each package ecosystem does:
// dpkg (epochs, "~"), apk, rpm, semantic versioning (Go, npm, crates.io),
// PEP 440 (PyPI) and Maven. Each scheme parses into a Version that compares
// only with versions of the same scheme.
package version

import (
	"errors"
	"fmt"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
	apk "github.com/knqyf263/go-apk-version"
	deb "github.com/knqyf263/go-deb-version"
	rpm "github.com/knqyf263/go-rpm-version"
	mvn "github.com/masahiro331/go-mvn-version"
	"golang.org/x/mod/semver"

	"github.com/berth-dev/berth/vuln/osv"
)

// Scheme names a version ordering.
type Scheme string

// The schemes berth knows.
const (
	Dpkg   Scheme = "dpkg"
	APK    Scheme = "apk"
	RPM    Scheme = "rpm"
	SemVer Scheme = "semver"
	PEP440 Scheme = "pep440"
	Maven  Scheme = "maven"
)

// ErrUnknownEcosystem is returned for an ecosystem whose order berth does not know.
var ErrUnknownEcosystem = errors.New("unknown ecosystem")

// ecosystems maps an OSV ecosystem's base name (before any ":release") to
// its version order.
var ecosystems = map[string]Scheme{
	"Debian":      Dpkg,
	"Ubuntu":      Dpkg,
	"Alpine":      APK,
	"Wolfi":       APK,
	"Chainguard":  APK,
	"Red Hat":     RPM,
	"AlmaLinux":   RPM,
	"Rocky Linux": RPM,
	"openSUSE":    RPM,
	"SUSE":        RPM,
	"Mageia":      RPM,
	"Photon OS":   RPM,
	"Azure Linux": RPM,
	"CBL-Mariner": RPM,
	"openEuler":   RPM,
	"Go":          SemVer,
	"npm":         SemVer,
	"crates.io":   SemVer,
	"PyPI":        PEP440,
	"Maven":       Maven,
}

// ForEcosystem returns the scheme of an OSV ecosystem such as "Debian:12".
func ForEcosystem(ecosystem string) (Scheme, error) {
	base, _, _ := strings.Cut(ecosystem, ":")
	if s, ok := ecosystems[base]; ok {
		return s, nil
	}
	return "", fmt.Errorf("%w %q", ErrUnknownEcosystem, ecosystem)
}

// Parse parses s in the scheme.
func (s Scheme) Parse(v string) (osv.Version, error) {
	switch s {
	case Dpkg:
		x, err := deb.NewVersion(v)
		if err != nil {
			return nil, fmt.Errorf("dpkg version %q: %w", v, err)
		}
		return dpkgVersion{x}, nil
	case APK:
		if v == "" || !apk.Valid(v) {
			return nil, fmt.Errorf("apk version %q: invalid", v)
		}
		x, err := apk.NewVersion(v)
		if err != nil {
			return nil, fmt.Errorf("apk version %q: %w", v, err)
		}
		return apkVersion{x}, nil
	case RPM:
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("rpm version %q: empty", v)
		}
		return rpmVersion{rpm.NewVersion(v)}, nil
	case SemVer:
		return parseSemver(v)
	case PEP440:
		x, err := pep440.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("PEP 440 version %q: %w", v, err)
		}
		return pep440Version{x}, nil
	case Maven:
		x, err := mvn.NewVersion(v)
		if err != nil {
			return nil, fmt.Errorf("maven version %q: %w", v, err)
		}
		return mavenVersion{x}, nil
	}
	return nil, fmt.Errorf("unknown version scheme %q", string(s))
}

// Parser returns s.Parse as an osv.Parser.
func (s Scheme) Parser() osv.Parser { return s.Parse }

// Compare parses both versions in the scheme and compares them.
func (s Scheme) Compare(a, b string) (int, error) {
	va, err := s.Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := s.Parse(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

type dpkgVersion struct{ v deb.Version }

func (a dpkgVersion) Compare(b osv.Version) int { return a.v.Compare(b.(dpkgVersion).v) }

type apkVersion struct{ v apk.Version }

func (a apkVersion) Compare(b osv.Version) int { return a.v.Compare(b.(apkVersion).v) }

type rpmVersion struct{ v rpm.Version }

func (a rpmVersion) Compare(b osv.Version) int { return a.v.Compare(b.(rpmVersion).v) }

type pep440Version struct{ v pep440.Version }

func (a pep440Version) Compare(b osv.Version) int { return a.v.Compare(b.(pep440Version).v) }

type mavenVersion struct{ v mvn.Version }

func (a mavenVersion) Compare(b osv.Version) int { return a.v.Compare(b.(mavenVersion).v) }

// semverVersion is a semantic version with Go's "v" prefix added.
type semverVersion string

func (a semverVersion) Compare(b osv.Version) int {
	return semver.Compare(string(a), string(b.(semverVersion)))
}

// parseSemver accepts versions with or without Go's "v" prefix.
func parseSemver(v string) (osv.Version, error) {
	s := v
	if !strings.HasPrefix(s, "v") {
		s = "v" + s
	}
	if !semver.IsValid(s) {
		return nil, fmt.Errorf("semantic version %q: invalid", v)
	}
	return semverVersion(s), nil
}

// GoStdlib turns a Go toolchain version ("go1.21.5", "go1.22rc1", "go1.20")
// into the semantic version the Go vulnerability database uses for the
// standard library ("1.21.5", "1.22.0-rc.1", "1.20.0").
func GoStdlib(v string) string {
	v = strings.TrimPrefix(v, "go")
	pre := ""
	for _, tag := range []string{"rc", "beta"} {
		if i := strings.Index(v, tag); i > 0 {
			pre = "-" + tag + "." + v[i+len(tag):]
			v = v[:i]
		}
	}
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	return v + pre
}
