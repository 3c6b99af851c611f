package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/berth-dev/berth/vuln"
)

// SARIF 2.1.0, the subset code-scanning tools read: one rule per advisory,
// one result per affected package.
type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string          `json:"id"`
	ShortDescription sarifText       `json:"shortDescription"`
	HelpURI          string          `json:"helpUri,omitempty"`
	Properties       sarifProperties `json:"properties"`
}

type sarifProperties struct {
	SecuritySeverity string   `json:"security-severity,omitempty"`
	Tags             []string `json:"tags"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation"`
}

// sarifLevel maps severities to SARIF levels as code scanning shows them.
func sarifLevel(s vuln.Severity) string {
	switch s {
	case vuln.Critical, vuln.High:
		return "error"
	case vuln.Medium:
		return "warning"
	}
	return "note"
}

// WriteSARIF writes findings as a SARIF 2.1.0 log.
func WriteSARIF(w io.Writer, image string, fs []vuln.Finding) error {
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: "berth", InformationURI: "https://github.com/berth-dev/berth", Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	rules := map[string]bool{}
	for _, f := range fs {
		if !rules[f.ID] {
			rules[f.ID] = true
			r := sarifRule{ID: f.ID, ShortDescription: sarifText{Text: summaryOf(f)}, HelpURI: "https://osv.dev/vulnerability/" + f.ID,
				Properties: sarifProperties{Tags: []string{"security", "vulnerability", strings.ToLower(f.Severity.String())}}}
			if f.CVSSScore > 0 {
				r.Properties.SecuritySeverity = fmt.Sprintf("%.1f", f.CVSSScore)
			}
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, r)
		}
		msg := fmt.Sprintf("%s %s %s in %s: %s", f.Severity, f.ID, f.Package.Name+" "+f.Installed, image, fixedIn(f))
		res := sarifResult{RuleID: f.ID, Level: sarifLevel(f.Severity), Message: sarifText{Text: msg}}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = strings.TrimPrefix(f.Package.Path, "/")
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Version: "2.1.0", Schema: "https://json.schemastore.org/sarif-2.1.0.json", Runs: []sarifRun{run}})
}

func summaryOf(f vuln.Finding) string {
	if f.Summary != "" {
		return f.Summary
	}
	return f.ID + " in " + f.MatchedName
}
