package sbom

import (
	"path"
	"regexp"
	"strings"

	"github.com/package-url/packageurl-go"
)

var pypiNormalize = regexp.MustCompile(`[-_.]+`)

// NormalizePyPI is the PEP 503 normalized form of a Python project name, the
// form package URLs and the OSV database use.
func NormalizePyPI(name string) string {
	return strings.ToLower(pypiNormalize.ReplaceAllString(name, "-"))
}

// purlFor renders the package URL of p; distro packages name their distro.
func purlFor(p *Package, d *Distro) string {
	var q packageurl.Qualifiers
	ns, name, version := "", p.Name, p.Version
	switch p.Type {
	case TypeDeb, TypeAPK, TypeRPM:
		distroID := "linux"
		if d != nil {
			distroID = d.ID
		}
		ns = distroID
		if p.Arch != "" {
			q = append(q, packageurl.Qualifier{Key: "arch", Value: p.Arch})
		}
		if p.Type == TypeRPM {
			if e, v, ok := strings.Cut(version, ":"); ok {
				version = v
				q = append(q, packageurl.Qualifier{Key: "epoch", Value: e})
			}
		}
		if d != nil && d.VersionID != "" {
			q = append(q, packageurl.Qualifier{Key: "distro", Value: d.ID + "-" + d.VersionID})
		}
		if p.Source != "" && p.Source != p.Name {
			q = append(q, packageurl.Qualifier{Key: "upstream", Value: p.Source})
		}
	case TypeGo:
		if p.Name != GoStdlib {
			ns, name = path.Split(p.Name)
			ns = strings.TrimSuffix(ns, "/")
		}
	case TypePython:
		name = NormalizePyPI(name)
	case TypeNPM:
		if strings.HasPrefix(name, "@") {
			ns, name, _ = strings.Cut(name, "/")
		}
	case TypeMaven:
		if g, a, ok := strings.Cut(name, ":"); ok {
			ns, name = g, a
		}
	}
	typ := string(p.Type)
	if p.Type == TypeBinary {
		typ = packageurl.TypeGeneric
	}
	return packageurl.NewPackageURL(typ, ns, name, version, q, "").ToString()
}
