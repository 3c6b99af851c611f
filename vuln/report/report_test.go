package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/report"
)

func findings() []vuln.Finding {
	ssl := sbom.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: sbom.TypeDeb, PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2", Path: "/var/lib/dpkg/status"}
	net := sbom.Package{Name: "golang.org/x/net", Version: "v0.16.0", Type: sbom.TypeGo, PURL: "pkg:golang/golang.org/x/net@v0.16.0", Path: "/usr/bin/app"}
	return []vuln.Finding{
		{ID: "CVE-2024-0001", Severity: vuln.Critical, CVSSScore: 9.8, Package: ssl, Installed: "3.0.11-1~deb12u2", FixedIn: []string{"3.0.13-1~deb12u1"}, MatchedName: "openssl"},
		{ID: "GO-2023-2102", Severity: vuln.High, CVSSScore: 7.5, Package: net, Installed: "v0.16.0", FixedIn: []string{"0.17.0"}, Summary: "HTTP/2 rapid reset"},
		{ID: "CVE-2024-0002", Severity: vuln.Low, Package: ssl, Installed: "3.0.11-1~deb12u2"},
		{ID: "CVE-2024-0003", Severity: vuln.Unknown, Package: ssl, Installed: "3.0.11-1~deb12u2"},
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := report.Write(&b, "table", "app:1", findings()); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID              SEVERITY   PACKAGE            INSTALLED          FIXED IN\n" +
		"CVE-2024-0001   CRITICAL   libssl3            3.0.11-1~deb12u2   3.0.13-1~deb12u1\n" +
		"GO-2023-2102    HIGH       golang.org/x/net   v0.16.0            0.17.0\n" +
		"CVE-2024-0002   LOW        libssl3            3.0.11-1~deb12u2   not fixed\n" +
		"CVE-2024-0003   UNKNOWN    libssl3            3.0.11-1~deb12u2   not fixed\n" +
		"\n" +
		"4 vulnerabilities found in 2 packages (CRITICAL 1, HIGH 1, MEDIUM 0, LOW 1, UNKNOWN 1)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFilterAndExitCode(t *testing.T) {
	only, err := report.ParseSeverities("critical, HIGH,critical")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(only, []vuln.Severity{vuln.Critical, vuln.High}) {
		t.Errorf("ParseSeverities = %v", only)
	}
	if _, err := report.ParseSeverities("critical,urgent"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("bad severity: %v", err)
	}
	all, _ := report.ParseSeverities("")
	tests := []struct {
		only     []vuln.Severity
		exitFlag bool
		n, code  int
	}{
		{all, false, 4, 0},
		{all, true, 4, 2},
		{only, true, 2, 2},
		{[]vuln.Severity{vuln.Medium}, true, 0, 0},
		{[]vuln.Severity{vuln.Unknown}, true, 1, 2},
	}
	for _, tc := range tests {
		got := report.Filter(findings(), tc.only)
		if len(got) != tc.n {
			t.Errorf("Filter(%v) kept %d, want %d", tc.only, len(got), tc.n)
		}
		if code := report.ExitCode(got, tc.exitFlag); code != tc.code {
			t.Errorf("ExitCode(%v, %v) = %d, want %d", tc.only, tc.exitFlag, code, tc.code)
		}
	}
	var b bytes.Buffer
	report.WriteTable(&b, nil)
	if got := b.String(); got != "ID   SEVERITY   PACKAGE   INSTALLED   FIXED IN\n\n0 vulnerabilities found in 0 packages (CRITICAL 0, HIGH 0, MEDIUM 0, LOW 0, UNKNOWN 0)\n" {
		t.Errorf("empty table:\n%q", got)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := report.Write(&b, "json", "app:1", findings()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Image   string
		Summary struct {
			Total      int
			Packages   int
			BySeverity map[string]int
		}
		Vulnerabilities []struct {
			ID       string
			Severity string
			FixedIn  []string
			Package  struct{ Name, PURL string }
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Image != "app:1" || doc.Summary.Total != 4 || doc.Summary.BySeverity["CRITICAL"] != 1 || doc.Vulnerabilities[1].Severity != "HIGH" || doc.Vulnerabilities[0].Package.PURL == "" {
		t.Errorf("json: %+v", doc)
	}
}

func TestSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := report.Write(&b, "sarif", "app:1", findings()); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct {
						ID         string
						Properties map[string]any
					}
				}
			}
			Results []struct {
				RuleID    string
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if log.Version != "2.1.0" || run.Tool.Driver.Name != "berth" || len(run.Tool.Driver.Rules) != 4 || len(run.Results) != 4 {
		t.Fatalf("sarif: %+v", log)
	}
	levels := []string{}
	for _, r := range run.Results {
		levels = append(levels, r.Level)
	}
	if !slices.Equal(levels, []string{"error", "error", "note", "note"}) {
		t.Errorf("levels %v", levels)
	}
	if run.Results[1].Locations[0].PhysicalLocation.ArtifactLocation.URI != "usr/bin/app" {
		t.Errorf("location %+v", run.Results[1].Locations)
	}
	if run.Tool.Driver.Rules[0].Properties["security-severity"] != "9.8" {
		t.Errorf("rule properties %+v", run.Tool.Driver.Rules[0].Properties)
	}
	if err := report.Write(&b, "xml", "", nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("unknown format: %v", err)
	}
}
