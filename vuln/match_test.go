package vuln_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/osv"
)

func adv(id, eco, name string, events ...osv.Event) osv.Advisory {
	return osv.Advisory{ID: id, Modified: "2024-01-01T00:00:00Z", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: eco, Name: name},
		Ranges:  []osv.Range{{Type: "ECOSYSTEM", Events: events}},
	}}}
}

func intro(v string) osv.Event { return osv.Event{Introduced: v} }
func fixed(v string) osv.Event { return osv.Event{Fixed: v} }

// writeAdvisories writes each advisory as <id>.json into a new directory.
func writeAdvisories(t *testing.T, advs ...osv.Advisory) string {
	t.Helper()
	dir := t.TempDir()
	for _, a := range advs {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, a.ID+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openDB(t *testing.T, advs ...osv.Advisory) *vuln.DB {
	t.Helper()
	db, err := vuln.Open(context.Background(), filepath.Join(t.TempDir(), "vuln", "osv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if len(advs) > 0 {
		if _, err := db.Import(context.Background(), vuln.ImportOptions{}, writeAdvisories(t, advs...)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func dpkg(name, version, extra string) string {
	return "Package: " + name + "\nStatus: install ok installed\nVersion: " + version + "\n" + extra + "\n"
}

// debianImage is a Debian 12 image with a Go binary's worth of modules, a
// Python, an npm and a Maven package.
func debianImage(t *testing.T) *sbom.SBOM {
	t.Helper()
	status := dpkg("epochpkg", "1:1.0-1", "") + dpkg("epochpkg2", "1:1.0-1", "") +
		dpkg("tildepkg", "1.0~rc1-1", "") + dpkg("tildepkg2", "1.0-1", "") +
		dpkg("eqpkg", "2.0-1", "") + dpkg("lowerpkg", "2.0-1", "") + dpkg("higherpkg", "2.0-1", "") +
		dpkg("libssl3", "3.0.11-1~deb12u2+b1", "Source: openssl (3.0.11-1~deb12u2)\n") +
		dpkg("unfixedpkg", "5.0-1", "")
	l := sbomtest.NewLayer(
		sbomtest.File("etc/os-release", []byte("ID=debian\nVERSION_ID=\"12\"\n")),
		sbomtest.File("var/lib/dpkg/status", []byte(status)),
		sbomtest.File("usr/lib/python3/dist-packages/Requests-2.28.1.dist-info/METADATA", []byte("Name: Requests\nVersion: 2.28.1\n")),
		sbomtest.File("app/node_modules/lodash/package.json", []byte(`{"name":"lodash","version":"4.17.20"}`)),
		sbomtest.File("app/node_modules/left-pad/package.json", []byte(`{"name":"left-pad","version":"1.3.0"}`)),
	)
	s, err := sbom.Inventory(context.Background(), []sbom.Layer{l})
	if err != nil {
		t.Fatal(err)
	}
	// a Go binary and a jar, as the inventory reports them
	s.Packages = append(s.Packages,
		sbom.Package{Name: "golang.org/x/text", Version: "v0.3.7", Type: sbom.TypeGo, Path: "/app"},
		sbom.Package{Name: "golang.org/x/net", Version: "v0.17.0", Type: sbom.TypeGo, Path: "/app"},
		sbom.Package{Name: sbom.GoStdlib, Version: "go1.21.5", Type: sbom.TypeGo, Path: "/app"},
		sbom.Package{Name: "org.apache.commons:commons-text", Version: "1.9", Type: sbom.TypeMaven, Path: "/app.jar"},
	)
	return s
}

func debianAdvisories() []osv.Advisory {
	withdrawn := adv("DSA-WITHDRAWN", "Debian:12", "higherpkg", intro("0"), fixed("9.0-1"))
	withdrawn.Withdrawn = "2024-02-01T00:00:00Z"
	lastAffected := osv.Advisory{ID: "GO-2022-1059", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: "Go", Name: "golang.org/x/text"},
		Ranges:  []osv.Range{{Type: "SEMVER", Events: []osv.Event{intro("0"), {LastAffected: "0.3.7"}}}},
	}}}
	netFixed := osv.Advisory{ID: "GO-2023-2102", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: "Go", Name: "golang.org/x/net"},
		Ranges:  []osv.Range{{Type: "SEMVER", Events: []osv.Event{intro("0"), fixed("0.17.0")}}},
	}}}
	stdlib := osv.Advisory{ID: "GO-2024-2598", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: "Go", Name: "stdlib"},
		Ranges:  []osv.Range{{Type: "SEMVER", Events: []osv.Event{intro("1.21.0"), fixed("1.21.8"), intro("1.22.0"), fixed("1.22.1")}}},
	}}}
	leftPad := osv.Advisory{ID: "GHSA-left-pad", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: "npm", Name: "left-pad"}, Versions: []string{"1.2.0", "1.3.0"},
	}}}
	return []osv.Advisory{
		adv("DSA-EPOCH-NOT", "Debian:12", "epochpkg", intro("0"), fixed("2.0-1")),    // 1:1.0-1 > 2.0-1
		adv("DSA-EPOCH-YES", "Debian:12", "epochpkg2", intro("0"), fixed("1:1.1-1")), // 1:1.0-1 < 1:1.1-1
		adv("DSA-TILDE-YES", "Debian:12", "tildepkg", intro("0"), fixed("1.0-1")),    // 1.0~rc1 < 1.0
		adv("DSA-TILDE-NOT", "Debian:12", "tildepkg2", intro("0"), fixed("1.0~rc2-1")),
		adv("DSA-EQUAL", "Debian:12", "eqpkg", intro("0"), fixed("2.0-1")),
		adv("DSA-LOWER", "Debian:12", "lowerpkg", intro("0"), fixed("1.9-1")),
		adv("DSA-HIGHER", "Debian:12", "higherpkg", intro("0"), fixed("2.1-1")),
		adv("DSA-OTHER-RELEASE", "Debian:11", "higherpkg", intro("0"), fixed("3.0-1")),
		withdrawn,
		adv("DEBIAN-CVE-2024-0727", "Debian:12", "openssl", intro("0"), fixed("3.0.13-1~deb12u1")),
		adv("DEBIAN-CVE-ANY-RELEASE", "Debian", "unfixedpkg", intro("0")),
		lastAffected, netFixed, stdlib, leftPad,
		adv("PYSEC-2023-74", "PyPI", "requests", intro("2.3.0"), fixed("2.31.0")),
		adv("GHSA-lodash", "npm", "lodash", intro("0"), fixed("4.17.21")),
		adv("GHSA-commons-text", "Maven", "org.apache.commons:commons-text", intro("1.5"), fixed("1.10.0")),
		adv("GHSA-other-ecosystem", "PyPI", "lodash", intro("0")),
	}
}

func findingsSummary(res *vuln.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.ID+" "+f.Package.Name+" "+f.Installed+" fixed:"+strings.Join(f.FixedIn, ","))
	}
	slices.Sort(out)
	return out
}

func TestMatchReportsExactlyTheAffectedPackages(t *testing.T) {
	db := openDB(t, debianAdvisories()...)
	res, err := vuln.Match(context.Background(), db, debianImage(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"DEBIAN-CVE-2024-0727 libssl3 3.0.11-1~deb12u2 fixed:3.0.13-1~deb12u1",
		"DEBIAN-CVE-ANY-RELEASE unfixedpkg 5.0-1 fixed:",
		"DSA-EPOCH-YES epochpkg2 1:1.0-1 fixed:1:1.1-1",
		"DSA-HIGHER higherpkg 2.0-1 fixed:2.1-1",
		"DSA-TILDE-YES tildepkg 1.0~rc1-1 fixed:1.0-1",
		"GHSA-commons-text org.apache.commons:commons-text 1.9 fixed:1.10.0",
		"GHSA-left-pad left-pad 1.3.0 fixed:",
		"GHSA-lodash lodash 4.17.20 fixed:4.17.21",
		"GO-2022-1059 golang.org/x/text v0.3.7 fixed:",
		"GO-2024-2598 stdlib 1.21.5 fixed:1.21.8",
		"PYSEC-2023-74 Requests 2.28.1 fixed:2.31.0",
	}
	if got := findingsSummary(res); !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	for _, f := range res.Findings {
		if f.ID == "DEBIAN-CVE-2024-0727" && (f.MatchedName != "openssl" || f.Ecosystem != "Debian:12") {
			t.Errorf("source match recorded as %s in %s", f.MatchedName, f.Ecosystem)
		}
	}
}

func TestMatchAlpineOrigin(t *testing.T) {
	l := sbomtest.NewLayer(
		sbomtest.File("etc/os-release", []byte("ID=alpine\nVERSION_ID=3.19.1\n")),
		sbomtest.File("lib/apk/db/installed", []byte("P:libcrypto3\nV:3.1.4-r5\no:openssl\n\nP:musl\nV:1.2.4_git20230717-r4\no:musl\n")),
	)
	s, err := sbom.Inventory(context.Background(), []sbom.Layer{l})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t,
		adv("ALPINE-CVE-2024-0727", "Alpine:v3.19", "openssl", intro("0"), fixed("3.1.4-r6")),
		adv("ALPINE-OLD-BRANCH", "Alpine:v3.18", "openssl", intro("0"), fixed("3.1.9-r0")),
		adv("ALPINE-MUSL", "Alpine:v3.19", "musl", intro("0"), fixed("1.2.4_git20230717-r4")),
	)
	res, err := vuln.Match(context.Background(), db, s)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingsSummary(res); !slices.Equal(got, []string{"ALPINE-CVE-2024-0727 libcrypto3 3.1.4-r5 fixed:3.1.4-r6"}) {
		t.Errorf("got %v", got)
	}
	if eco := vuln.Ecosystems(s); !slices.Equal(eco, []string{"Alpine"}) {
		t.Errorf("Ecosystems = %v", eco)
	}
}

func TestEcosystems(t *testing.T) {
	got := vuln.Ecosystems(debianImage(t))
	want := []string{"Debian", "Go", "Maven", "PyPI", "npm"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
