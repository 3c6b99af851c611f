package vuln

import (
	"encoding/json"
	"fmt"
	"strings"

	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/vuln/osv"
)

// Severity is a vulnerability's rating, ordered from Unknown to Critical.
type Severity int

// The ratings, as CVSS v3 names them, plus Unknown for advisories without one.
const (
	Unknown Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

func (s Severity) String() string {
	if s < Unknown || s > Critical {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText writes the name, so JSON shows "HIGH".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// ParseSeverity reads a severity name as `--only-severity` takes it:
// critical, high, medium, low, or unknown (also unspecified, as Docker Scout
// calls it), in any case.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return Critical, nil
	case "high":
		return High, nil
	case "medium":
		return Medium, nil
	case "low":
		return Low, nil
	case "unknown", "unspecified":
		return Unknown, nil
	}
	return Unknown, fmt.Errorf("invalid severity %q (want critical, high, medium, low or unknown): %w", s, errdefs.ErrInvalid)
}

// FromScore rates a CVSS base score: critical ≥ 9, high ≥ 7, medium ≥ 4, low > 0.
func FromScore(score float64) Severity {
	switch {
	case score >= 9:
		return Critical
	case score >= 7:
		return High
	case score >= 4:
		return Medium
	case score > 0:
		return Low
	}
	return Unknown
}

// fromRating maps the words advisories use for their own rating (GitHub's
// "moderate", Debian's "unimportant", Red Hat's "important").
func fromRating(r string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(r)) {
	case "critical":
		return Critical, true
	case "high", "important":
		return High, true
	case "medium", "moderate":
		return Medium, true
	case "low", "negligible", "unimportant", "minor":
		return Low, true
	}
	return Unknown, false
}

// CVSSScore returns the base score of a CVSS v3.0, v3.1 or v4.0 vector.
func CVSSScore(vector string) (float64, error) {
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		v, err := cvss31.ParseVector(vector)
		if err != nil {
			return 0, err
		}
		return v.BaseScore(), nil
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		v, err := cvss30.ParseVector(vector)
		if err != nil {
			return 0, err
		}
		return v.BaseScore(), nil
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		v, err := cvss40.ParseVector(vector)
		if err != nil {
			return 0, err
		}
		return v.Score(), nil
	}
	return 0, fmt.Errorf("unsupported CVSS vector %q", vector)
}

// Rate decides an advisory's severity for one affected entry: the highest
// CVSS v3 score among the entry's and the advisory's vectors, else the
// highest v4 score, else the advisory's own rating (database_specific or
// ecosystem_specific "severity", Ubuntu's priority, Debian's urgency), else
// Unknown. score is the CVSS base score used, 0 without one.
func Rate(a *osv.Advisory, af *osv.Affected) (sev Severity, score float64) {
	var sevs []osv.Severity
	if af != nil {
		sevs = append(sevs, af.Severity...)
	}
	sevs = append(sevs, a.Severity...)
	for _, want := range []string{"CVSS_V3", "CVSS_V4"} {
		best := -1.0
		for _, s := range sevs {
			if s.Type != want {
				continue
			}
			if sc, err := CVSSScore(s.Score); err == nil && sc > best {
				best = sc
			}
		}
		if best >= 0 {
			return FromScore(best), best
		}
	}
	for _, s := range sevs {
		if s.Type == "Ubuntu" {
			if r, ok := fromRating(s.Score); ok {
				return r, 0
			}
		}
	}
	var specific []json.RawMessage
	if af != nil {
		specific = append(specific, af.EcosystemSpecific, af.DatabaseSpecific)
	}
	specific = append(specific, a.DatabaseSpecific)
	for _, raw := range specific {
		if len(raw) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		for _, key := range []string{"severity", "urgency", "cvss_severity"} {
			var s string
			if json.Unmarshal(m[key], &s) == nil {
				if r, ok := fromRating(s); ok {
					return r, 0
				}
			}
		}
	}
	return Unknown, 0
}
