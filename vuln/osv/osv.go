// Package osv holds the Open Source Vulnerability format
// (https://ossf.github.io/osv-schema/) as berth reads it, and the range
// semantics that decide whether a version is affected.
package osv

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Advisory is one OSV record.
type Advisory struct {
	SchemaVersion    string          `json:"schema_version,omitempty"`
	ID               string          `json:"id"`
	Modified         string          `json:"modified,omitempty"`
	Published        string          `json:"published,omitempty"`
	Withdrawn        string          `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Related          []string        `json:"related,omitempty"`
	Upstream         []string        `json:"upstream,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []Severity      `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	References       []Reference     `json:"references,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Severity is a scored severity: Type is CVSS_V2, CVSS_V3, CVSS_V4 or
// Ubuntu; Score is the vector (or Ubuntu's rating).
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one package an advisory affects, with the versions affected.
type Affected struct {
	Package           Package         `json:"package"`
	Severity          []Severity      `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Package names a package within an ecosystem ("Debian:12", "PyPI", "Go").
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is a list of events over an ordered sequence of versions: SEMVER
// ranges use semantic versioning, ECOSYSTEM ranges the ecosystem's own
// order, GIT ranges commit history (which berth cannot evaluate).
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one event of a range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link about the advisory.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid OSV record")

// Parse decodes one OSV JSON record and checks what berth relies on: an id,
// and a named ecosystem and package on every affected entry.
func Parse(b []byte) (*Advisory, error) {
	var a Advisory
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// Validate checks a decoded record.
func (a *Advisory) Validate() error {
	if a.ID == "" {
		return fmt.Errorf("%w: no id", ErrInvalid)
	}
	for i, af := range a.Affected {
		if af.Package.Ecosystem == "" || af.Package.Name == "" {
			if af.Package.PURL != "" {
				continue // a purl-only entry: kept, never matched by name
			}
			return fmt.Errorf("%w: %s: affected[%d] names no ecosystem and package", ErrInvalid, a.ID, i)
		}
		for j, r := range af.Ranges {
			for k, e := range r.Events {
				n := 0
				for _, v := range []string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
					if v != "" {
						n++
					}
				}
				if n != 1 {
					return fmt.Errorf("%w: %s: affected[%d].ranges[%d].events[%d] must set exactly one field", ErrInvalid, a.ID, i, j, k)
				}
			}
		}
	}
	return nil
}
