package vuln_test

import (
	"encoding/json"
	"testing"

	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/osv"
)

func TestRate(t *testing.T) {
	crit31 := osv.Severity{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}                    // 9.8
	med31 := osv.Severity{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}                     // 5.4
	high30 := osv.Severity{Type: "CVSS_V3", Score: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}                    // 7.5
	low31 := osv.Severity{Type: "CVSS_V3", Score: "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}                     // 1.8
	crit40 := osv.Severity{Type: "CVSS_V4", Score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"} // 9.3
	tests := []struct {
		name  string
		a     osv.Advisory
		af    *osv.Affected
		want  vuln.Severity
		score float64
	}{
		{"cvss 3.1 critical", osv.Advisory{Severity: []osv.Severity{crit31}}, nil, vuln.Critical, 9.8},
		{"cvss 3.1 medium", osv.Advisory{Severity: []osv.Severity{med31}}, nil, vuln.Medium, 5.4},
		{"cvss 3.0 high", osv.Advisory{Severity: []osv.Severity{high30}}, nil, vuln.High, 7.5},
		{"cvss 3.1 low", osv.Advisory{Severity: []osv.Severity{low31}}, nil, vuln.Low, 1.8},
		{"cvss 4.0 when no v3", osv.Advisory{Severity: []osv.Severity{crit40}}, nil, vuln.Critical, 9.3},
		{"v3 preferred over v4", osv.Advisory{Severity: []osv.Severity{crit40, med31}}, nil, vuln.Medium, 5.4},
		{"affected entry's vector counts", osv.Advisory{}, &osv.Affected{Severity: []osv.Severity{high30}}, vuln.High, 7.5},
		{"own rating: GitHub moderate", osv.Advisory{DatabaseSpecific: json.RawMessage(`{"severity":"MODERATE"}`)}, nil, vuln.Medium, 0},
		{"own rating: ecosystem_specific", osv.Advisory{}, &osv.Affected{EcosystemSpecific: json.RawMessage(`{"severity":"HIGH"}`)}, vuln.High, 0},
		{"own rating: Debian urgency", osv.Advisory{}, &osv.Affected{DatabaseSpecific: json.RawMessage(`{"urgency":"unimportant"}`)}, vuln.Low, 0},
		{"Ubuntu priority", osv.Advisory{Severity: []osv.Severity{{Type: "Ubuntu", Score: "high"}}}, nil, vuln.High, 0},
		{"malformed vector falls back to rating", osv.Advisory{Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:X"}}, DatabaseSpecific: json.RawMessage(`{"severity":"LOW"}`)}, nil, vuln.Low, 0},
		{"nothing", osv.Advisory{}, nil, vuln.Unknown, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, score := vuln.Rate(&tc.a, tc.af)
			if got != tc.want || score != tc.score {
				t.Errorf("Rate = %s %.1f, want %s %.1f", got, score, tc.want, tc.score)
			}
		})
	}
}

func TestFromScoreBoundaries(t *testing.T) {
	for score, want := range map[float64]vuln.Severity{0: vuln.Unknown, 0.1: vuln.Low, 3.9: vuln.Low, 4: vuln.Medium, 6.9: vuln.Medium, 7: vuln.High, 8.9: vuln.High, 9: vuln.Critical, 10: vuln.Critical} {
		if got := vuln.FromScore(score); got != want {
			t.Errorf("FromScore(%v) = %s, want %s", score, got, want)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]vuln.Severity{"critical": vuln.Critical, "HIGH": vuln.High, " Medium": vuln.Medium, "low": vuln.Low, "unspecified": vuln.Unknown, "unknown": vuln.Unknown} {
		if got, err := vuln.ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %s, %v", in, got, err)
		}
	}
	if _, err := vuln.ParseSeverity("severe"); err == nil {
		t.Error("invalid severity accepted")
	}
}
