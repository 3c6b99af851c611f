package analysis

import (
	"strings"
	"time"

	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/report"
)

// VulnSummary is the vulnerability part of an analysis, as the API shows it.
type VulnSummary struct {
	// Database is "osv" when the image was matched, "none" when the hub
	// has no database (Message says so).
	Database        string         `json:"database"`
	Message         string         `json:"message,omitempty"`
	DatabaseUpdated time.Time      `json:"database_updated,omitzero"`
	Total           int            `json:"total"`
	Packages        int            `json:"packages"`
	Counts          map[string]int `json:"counts"`
	Findings        []vuln.Finding `json:"findings"`
	Warnings        []string       `json:"warnings,omitempty"`
}

// Summarise counts findings by severity.
func Summarise(fs []vuln.Finding) VulnSummary {
	c := report.Count(fs)
	v := VulnSummary{Database: "osv", Total: c.Total, Packages: c.Packages, Counts: map[string]int{}, Findings: fs}
	for s := vuln.Unknown; s <= vuln.Critical; s++ {
		v.Counts[strings.ToLower(s.String())] = c.By[s]
	}
	return v
}
