// Package report writes vulnerability findings as `berth image cves`
// shows them (a table with a summary line, JSON, or SARIF) and decides the
// command's exit code.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/vuln"
)

// Formats lists the names Write accepts, the default first.
var Formats = []string{"table", "json", "sarif"}

// ExitCodeVulnerable is the exit status when --exit-code is set and
// vulnerabilities remain after filtering, as `docker scout cves --exit-code`.
const ExitCodeVulnerable = 2

// ParseSeverities reads --only-severity: a comma-separated list such as
// "critical,high". An empty string means every severity.
func ParseSeverities(s string) ([]vuln.Severity, error) {
	var out []vuln.Severity
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		sev, err := vuln.ParseSeverity(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, sev) {
			out = append(out, sev)
		}
	}
	return out, nil
}

// Filter keeps the findings whose severity is in only; all when only is empty.
func Filter(fs []vuln.Finding, only []vuln.Severity) []vuln.Finding {
	if len(only) == 0 {
		return fs
	}
	out := []vuln.Finding{}
	for _, f := range fs {
		if slices.Contains(only, f.Severity) {
			out = append(out, f)
		}
	}
	return out
}

// ExitCode is the status `berth image cves` exits with: ExitCodeVulnerable
// when exitCode (the --exit-code flag) is set and findings (already
// filtered by --only-severity) are not empty, else 0.
func ExitCode(findings []vuln.Finding, exitCode bool) int {
	if exitCode && len(findings) > 0 {
		return ExitCodeVulnerable
	}
	return 0
}

// Counts is the number of findings per severity and of packages affected.
type Counts struct {
	Total    int                   `json:"total"`
	Packages int                   `json:"packages"`
	By       map[vuln.Severity]int `json:"bySeverity"`
}

// Count tallies findings.
func Count(fs []vuln.Finding) Counts {
	c := Counts{By: map[vuln.Severity]int{}}
	pkgs := map[string]bool{}
	for _, f := range fs {
		c.Total++
		c.By[f.Severity]++
		pkgs[f.Package.PURL+"\x00"+f.Package.Path] = true
	}
	c.Packages = len(pkgs)
	return c
}

// String is the summary line: "3 vulnerabilities found in 2 packages
// (CRITICAL 1, HIGH 1, MEDIUM 0, LOW 1, UNKNOWN 0)".
func (c Counts) String() string {
	noun, pnoun := "vulnerabilities", "packages"
	if c.Total == 1 {
		noun = "vulnerability"
	}
	if c.Packages == 1 {
		pnoun = "package"
	}
	var parts []string
	for s := vuln.Critical; s >= vuln.Unknown; s-- {
		parts = append(parts, fmt.Sprintf("%s %d", s, c.By[s]))
	}
	return fmt.Sprintf("%d %s found in %d %s (%s)", c.Total, noun, c.Packages, pnoun, strings.Join(parts, ", "))
}

// Write writes findings in the named format; image names the image in the
// JSON and SARIF documents.
func Write(w io.Writer, format, image string, fs []vuln.Finding) error {
	switch format {
	case "", "table":
		return WriteTable(w, fs)
	case "json":
		return WriteJSON(w, image, fs)
	case "sarif":
		return WriteSARIF(w, image, fs)
	}
	return fmt.Errorf("unknown format %q (want table, json or sarif): %w", format, errdefs.ErrInvalid)
}

// WriteTable writes ID SEVERITY PACKAGE INSTALLED FIXED IN, then a blank
// line and the summary line.
func WriteTable(w io.Writer, fs []vuln.Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tPACKAGE\tINSTALLED\tFIXED IN")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.ID, f.Severity, f.Package.Name, f.Installed, fixedIn(f))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", Count(fs))
	return err
}

func fixedIn(f vuln.Finding) string {
	if len(f.FixedIn) == 0 {
		return "not fixed"
	}
	return strings.Join(f.FixedIn, ", ")
}

// WriteJSON writes {"image", "summary", "vulnerabilities"}.
func WriteJSON(w io.Writer, image string, fs []vuln.Finding) error {
	if fs == nil {
		fs = []vuln.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Image           string         `json:"image,omitempty"`
		Summary         Counts         `json:"summary"`
		Vulnerabilities []vuln.Finding `json:"vulnerabilities"`
	}{image, Count(fs), fs})
}
