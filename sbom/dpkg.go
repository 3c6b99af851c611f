package sbom

import (
	"fmt"
	"strings"
)

// parseDpkgStatus reads /var/lib/dpkg/status or one file of status.d/
// (distroless images keep one control paragraph per package there, without
// a Status field). Only packages whose status is "installed" are reported,
// as dpkg-query shows them with the abbreviation "ii" (or "hi" when held).
func parseDpkgStatus(b []byte) ([]Package, error) {
	stanzas, err := parseStanzas(b)
	if err != nil {
		return nil, err
	}
	var out []Package
	for i, s := range stanzas {
		name, version := s["Package"], s["Version"]
		if name == "" {
			return nil, fmt.Errorf("paragraph %d has no Package field", i+1)
		}
		if st, ok := s["Status"]; ok {
			f := strings.Fields(st)
			if len(f) != 3 || f[2] != "installed" {
				continue
			}
		}
		if version == "" {
			return nil, fmt.Errorf("package %s has no Version field", name)
		}
		p := Package{Name: name, Version: version, Type: TypeDeb, Arch: s["Architecture"]}
		if src := s["Source"]; src != "" {
			// "Source: glibc (2.36-9+deb12u4)" when the source version differs
			n, v, _ := strings.Cut(src, " ")
			p.Source = n
			p.SourceVersion = strings.Trim(strings.TrimSpace(v), "()")
		}
		out = append(out, p)
	}
	return out, nil
}

// parseDpkgFiles reads the paths a dpkg package owns: an info/<pkg>.list
// (one absolute path a line) or a distroless status.d/<pkg>.md5sums
// ("<md5>  <relative path>").
func parseDpkgFiles(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "/") {
			if _, p, ok := strings.Cut(line, "  "); ok {
				line = "/" + strings.TrimSpace(p)
			} else {
				continue
			}
		}
		out = append(out, line)
	}
	return out
}
