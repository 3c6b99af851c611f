package report_test

import (
	"slices"
	"testing"

	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/report"
)

func TestSelection(t *testing.T) {
	fs := findings()
	fs[2].Aliases = []string{"DEBIAN-CVE-2024-0002"}
	ids := func(fs []vuln.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return out
	}
	tests := []struct {
		name string
		sel  report.Selection
		want []string
	}{
		{"zero keeps all", report.Selection{}, []string{"CVE-2024-0001", "GO-2023-2102", "CVE-2024-0002", "CVE-2024-0003"}},
		{"severity", report.Selection{Severities: []vuln.Severity{vuln.Low, vuln.Unknown}}, []string{"CVE-2024-0002", "CVE-2024-0003"}},
		{"fixed", report.Selection{Fixed: true}, []string{"CVE-2024-0001", "GO-2023-2102"}},
		{"unfixed", report.Selection{Unfixed: true}, []string{"CVE-2024-0002", "CVE-2024-0003"}},
		{"package type", report.Selection{PackageTypes: []string{"golang"}}, []string{"GO-2023-2102"}},
		{"package by its name", report.Selection{Packages: []string{"libssl3"}, Fixed: true}, []string{"CVE-2024-0001"}},
		{"package by the advisory's name", report.Selection{Packages: []string{"openssl"}}, []string{"CVE-2024-0001"}},
		{"id and alias, any case", report.Selection{IDs: []string{"go-2023-2102", "DEBIAN-CVE-2024-0002"}}, []string{"GO-2023-2102", "CVE-2024-0002"}},
		{"nothing left", report.Selection{Severities: []vuln.Severity{vuln.Medium}}, nil},
	}
	for _, tt := range tests {
		if got := ids(tt.sel.Select(fs)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
