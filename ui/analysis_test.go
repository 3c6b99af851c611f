package ui

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/hub/seed"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/osv"
)

// TestAnalysisWithDatabase: with advisories imported, the details page's
// analysis stream ends in the findings for the packages it listed.
func TestAnalysisWithDatabase(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{})
	im, err := seed.Build([]seed.Layer{{Files: []seed.File{
		{Name: "etc/os-release", Data: []byte("ID=debian\nVERSION_ID=\"12\"\n")},
		{Name: "var/lib/dpkg/status", Data: []byte("Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10\nArchitecture: amd64\n\n" +
			"Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13-1\nArchitecture: amd64\n")},
	}}}, seed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.PushImage(t, "team/deb:1", im)
	s, srv := dashboard(t, h.Host)
	if _, err := s.e.Pull(ctx, "team/deb:1", engine.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	adv := osv.Advisory{ID: "DSA-9999-1", Modified: "2024-01-01T00:00:00Z", Summary: "a flaw in curl", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: "Debian:12", Name: "curl"},
		Ranges:  []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: "7.88.1-11"}}}},
	}}}
	raw, _ := json.Marshal(adv)
	file := filepath.Join(t.TempDir(), adv.ID+".json")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := vuln.Open(ctx, s.e.VulnDBPath())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import(ctx, vuln.ImportOptions{}, file); err != nil {
		t.Fatal(err)
	}
	db.Close()

	events := sse(t, do(t, srv, "GET", "/api/image/analysis?ref=team/deb:1", "", "Authorization", "Bearer "+s.Token()))
	if len(events) < 2 || events[len(events)-2].name != "packages" || events[len(events)-1].name != "vulnerabilities" {
		t.Fatalf("analysis events: %v", events)
	}
	var pkgs struct{ Packages []packageRow }
	_ = json.Unmarshal([]byte(events[len(events)-2].data), &pkgs)
	var vulns struct {
		Database string
		Total    int
		Counts   map[string]int
		Findings []findingRow
	}
	_ = json.Unmarshal([]byte(events[len(events)-1].data), &vulns)
	if len(pkgs.Packages) != 2 {
		t.Fatalf("packages: %+v", pkgs.Packages)
	}
	if vulns.Database != "osv" || vulns.Total != 1 || len(vulns.Findings) != 1 ||
		vulns.Findings[0].ID != adv.ID || vulns.Findings[0].Package != "curl" || vulns.Findings[0].Installed != "7.88.1-10" ||
		vulns.Counts["unknown"] != 1 {
		t.Errorf("vulnerabilities: %+v", vulns)
	}
}
