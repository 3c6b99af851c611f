package sbom

import (
	"encoding/json"
	"fmt"
)

// parsePackageJSON reads a package.json. One without a name or version (a
// test fixture, a workspace root) is not a package and gives nil.
func parsePackageJSON(b []byte) (*Package, error) {
	var m struct {
		Name     string          `json:"name"`
		Version  string          `json:"version"`
		License  json.RawMessage `json:"license"`
		Licenses json.RawMessage `json:"licenses"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("package.json: %w", err)
	}
	if m.Name == "" || m.Version == "" {
		return nil, nil
	}
	p := &Package{Name: m.Name, Version: m.Version, Type: TypeNPM}
	p.Licenses = npmLicenses(m.License)
	if len(p.Licenses) == 0 {
		p.Licenses = npmLicenses(m.Licenses)
	}
	return p, nil
}

// npmLicenses accepts the shapes npm has used over the years: "MIT",
// {"type": "MIT"}, and lists of either.
func npmLicenses(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	var o struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Type != "" {
		return []string{o.Type}
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, e := range list {
			out = append(out, npmLicenses(e)...)
		}
		return out
	}
	return nil
}
