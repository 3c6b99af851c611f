package cli

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/osv"
)

func dpkgEntry(name, version, status, extra string) string {
	return "Package: " + name + "\nStatus: " + status + "\nVersion: " + version + "\nArchitecture: amd64\n" + extra + "\n"
}

var baseStatus = dpkgEntry("epochpkg", "1:1.0-1", "install ok installed", "") +
	dpkgEntry("tildepkg", "1.0~rc1-1", "install ok installed", "") +
	dpkgEntry("eqpkg", "2.0-1", "install ok installed", "") +
	dpkgEntry("lowerpkg", "2.0-1", "install ok installed", "") +
	dpkgEntry("higherpkg", "2.0-1", "install ok installed", "") +
	dpkgEntry("libssl3", "3.0.11-1~deb12u2+b1", "install ok installed", "Source: openssl (3.0.11-1~deb12u2)\n") +
	dpkgEntry("removedpkg", "1.0-1", "deinstall ok config-files", "")

// analysedImage loads "scan:1": layer 1 a Debian 12 dpkg database and an
// npm package, layer 2 this test binary (a Go program) and a damaged jar,
// layer 3 a package added to the dpkg database and the npm package deleted.
func analysedImage(t *testing.T) (*berthCLI, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	l1 := testimage.Tar(
		testimage.File{Name: "etc/"}, testimage.File{Name: "etc/os-release", Body: "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"},
		testimage.File{Name: "var/"}, testimage.File{Name: "var/lib/"}, testimage.File{Name: "var/lib/dpkg/"},
		testimage.File{Name: "var/lib/dpkg/status", Body: baseStatus},
		testimage.File{Name: "opt/"}, testimage.File{Name: "opt/gone/"},
		testimage.File{Name: "opt/gone/node_modules/"}, testimage.File{Name: "opt/gone/node_modules/left-pad/"},
		testimage.File{Name: "opt/gone/node_modules/left-pad/package.json", Body: `{"name":"left-pad","version":"1.3.0"}`},
	)
	l2 := testimage.Tar(
		testimage.File{Name: "usr/"}, testimage.File{Name: "usr/local/"}, testimage.File{Name: "usr/local/bin/"},
		testimage.File{Name: "usr/local/bin/app", Body: string(bin), Mode: 0o755},
		testimage.File{Name: "opt/"}, testimage.File{Name: "opt/broken.jar", Body: "PK\x03\x04 truncated"},
	)
	l3 := testimage.Tar(
		testimage.File{Name: "var/"}, testimage.File{Name: "var/lib/"}, testimage.File{Name: "var/lib/dpkg/"},
		testimage.File{Name: "var/lib/dpkg/status", Body: baseStatus + dpkgEntry("newpkg", "1.0-1", "install ok installed", "")},
		testimage.File{Name: "opt/"}, testimage.File{Name: "opt/.wh.gone"},
	)
	b := newBerth(t)
	archive := testimage.DockerArchive(testimage.ArchiveImage{
		Config: testimage.Config([]string{"/usr/local/bin/app"}, l1, l2, l3),
		Layers: [][]byte{l1, testimage.Gzip(l2), l3}, Tags: []string{"scan:1"},
	})
	p := filepath.Join(t.TempDir(), "scan.tar")
	if err := os.WriteFile(p, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("load", "-i", p)
	return b, exe
}

// goVersionM lists what `go version -m` prints for a binary: its modules
// (a replacement in place of what it replaces) and its Go version.
func goVersionM(t *testing.T, bin string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to run `go version -m` with: " + err.Error())
	}
	out, err := exec.Command(goTool, "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	var mods []string
	for i, l := range lines(string(out)) {
		f := strings.Fields(l)
		switch {
		case i == 0:
			mods = append(mods, "stdlib "+f[len(f)-1])
		case len(f) >= 3 && (f[0] == "mod" || f[0] == "dep"):
			mods = append(mods, f[1]+" "+f[2])
		case len(f) >= 3 && f[0] == "=>":
			mods[len(mods)-1] = f[1] + " " + f[2]
		}
	}
	slices.Sort(mods)
	return mods
}

type sbomDoc struct {
	Packages []struct {
		Name, Version, Type, PURL, Path string
		Layer                           struct{ Index int }
	}
	Warnings []struct {
		Path  string
		Layer int
	}
}

func TestImageSbom(t *testing.T) {
	b, exe := analysedImage(t)

	out, stderr, code := b.try("", "image", "sbom", "scan:1")
	if code != 0 {
		t.Fatalf("image sbom: exit %d: %s", code, stderr)
	}
	// Only the damaged jar is a warning, one line naming it and its layer.
	if !strings.HasPrefix(stderr, "WARNING: /opt/broken.jar (layer 2): ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr: %q", stderr)
	}
	rows := lines(out)
	if strings.Join(strings.Fields(rows[0]), " ") != "NAME VERSION TYPE LAYER" {
		t.Errorf("header %q", rows[0])
	}
	var debs []string
	goLayers := map[string]bool{}
	for _, r := range rows[1:] {
		f := strings.Fields(r)
		switch f[2] {
		case "deb":
			debs = append(debs, strings.Join(f, " "))
		case "golang":
			goLayers[f[3]] = true
		default:
			t.Errorf("unexpected row %q", r)
		}
	}
	slices.Sort(debs)
	wantDebs := []string{
		"epochpkg 1:1.0-1 deb 1", "eqpkg 2.0-1 deb 1", "higherpkg 2.0-1 deb 1", "libssl3 3.0.11-1~deb12u2+b1 deb 1",
		"lowerpkg 2.0-1 deb 1", "newpkg 1.0-1 deb 3", "tildepkg 1.0~rc1-1 deb 1",
	}
	if !slices.Equal(debs, wantDebs) {
		t.Errorf("deb rows:\n%s\nwant:\n%s", strings.Join(debs, "\n"), strings.Join(wantDebs, "\n"))
	}
	if len(goLayers) != 1 || !goLayers["2"] {
		t.Errorf("Go modules in layers %v, want only 2", goLayers)
	}

	// json: the Go binary's modules are exactly what `go version -m` says.
	var doc sbomDoc
	if err := json.Unmarshal([]byte(b.run("image", "sbom", "--format", "json", "scan:1")), &doc); err != nil {
		t.Fatal(err)
	}
	var mods []string
	for _, p := range doc.Packages {
		if p.Type == "golang" {
			if p.Path != "/usr/local/bin/app" || p.Layer.Index != 1 {
				t.Errorf("Go package %s at %s, layer %d", p.Name, p.Path, p.Layer.Index)
			}
			mods = append(mods, p.Name+" "+p.Version)
		}
	}
	slices.Sort(mods)
	if want := goVersionM(t, exe); !slices.Equal(mods, want) {
		t.Errorf("Go modules:\n%s\ngo version -m:\n%s", strings.Join(mods, "\n"), strings.Join(want, "\n"))
	}
	if len(doc.Warnings) != 1 || doc.Warnings[0].Path != "/opt/broken.jar" {
		t.Errorf("json warnings %+v", doc.Warnings)
	}

	// SPDX and CycloneDX name every package with its purl.
	var spdx struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name         string `json:"name"`
			ExternalRefs []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := json.Unmarshal([]byte(b.run("image", "sbom", "--format", "spdx-json", "scan:1")), &spdx); err != nil {
		t.Fatal(err)
	}
	purls := 0
	for _, p := range spdx.Packages {
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" && strings.HasPrefix(r.Locator, "pkg:") {
				purls++
			}
		}
	}
	if spdx.SPDXVersion != "SPDX-2.3" || purls != len(doc.Packages) {
		t.Errorf("spdx: version %q, %d purls for %d packages", spdx.SPDXVersion, purls, len(doc.Packages))
	}
	var cdx struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct {
			PURL string `json:"purl"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(b.run("image", "sbom", "--format", "cyclonedx-json", "scan:1")), &cdx); err != nil {
		t.Fatal(err)
	}
	if cdx.BOMFormat != "CycloneDX" || len(cdx.Components) != len(doc.Packages) {
		t.Errorf("cyclonedx: %q with %d components for %d packages", cdx.BOMFormat, len(cdx.Components), len(doc.Packages))
	}

	// -o writes the file and nothing to stdout.
	outFile := filepath.Join(t.TempDir(), "sbom.json")
	if got := b.run("image", "sbom", "--format", "json", "-o", outFile, "scan:1"); got != "" {
		t.Errorf("stdout with -o: %q", got)
	}
	var fromFile sbomDoc
	if raw, err := os.ReadFile(outFile); err != nil || json.Unmarshal(raw, &fromFile) != nil || len(fromFile.Packages) != len(doc.Packages) {
		t.Errorf("-o file: %v", err)
	}

	for _, tt := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"image", "sbom", "--format", "xml", "scan:1"}, 125, `invalid argument "xml" for "--format" flag`},
		{[]string{"image", "sbom", "nope"}, 1, "Error: No such image: nope\n"},
		{[]string{"image", "sbom"}, 1, `"berth image sbom" requires exactly 1 argument.`},
	} {
		_, stderr, code := b.try("", tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("berth %s: exit %d, %q; want %d, %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.stderr)
		}
	}
}

const critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8

func advisory(id, eco, name string, events ...osv.Event) osv.Advisory {
	return osv.Advisory{ID: id, Modified: "2024-01-01T00:00:00Z", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: eco, Name: name},
		Ranges:  []osv.Range{{Type: "ECOSYSTEM", Events: events}},
	}}}
}

func rated(a osv.Advisory, severity string) osv.Advisory {
	a.DatabaseSpecific = json.RawMessage(`{"severity":"` + severity + `"}`)
	return a
}

func fixedAt(v string) []osv.Event { return []osv.Event{{Introduced: "0"}, {Fixed: v}} }

// crafted is the small OSV database of the cves tests.
func crafted() []osv.Advisory {
	epoch := advisory("DSA-0001-1", "Debian:12", "epochpkg", fixedAt("1:1.0-2")...)
	epoch.Severity = []osv.Severity{{Type: "CVSS_V3", Score: critical}}
	withdrawn := advisory("DSA-0007-1", "Debian:12", "higherpkg", fixedAt("9.0-1")...)
	withdrawn.Withdrawn = "2024-02-01T00:00:00Z"
	stdlib := advisory("GO-2099-0001", "Go", "stdlib", osv.Event{Introduced: "0"}, osv.Event{Fixed: "99.0.0"})
	stdlib.Affected[0].Ranges[0].Type = "SEMVER"
	return []osv.Advisory{
		epoch,
		advisory("DSA-0002-1", "Debian:12", "epochpkg", fixedAt("1.5-1")...),                // no epoch: lower than 1:1.0-1
		rated(advisory("DSA-0003-1", "Debian:12", "tildepkg", fixedAt("1.0-1")...), "high"), // 1.0~rc1 sorts before 1.0
		advisory("DSA-0004-1", "Debian:12", "eqpkg", fixedAt("2.0-1")...),                   // fixed in the installed version
		advisory("DSA-0005-1", "Debian:12", "lowerpkg", fixedAt("1.9-1")...),
		rated(advisory("DSA-0006-1", "Debian:12", "higherpkg", fixedAt("2.0-2")...), "medium"),
		withdrawn,
		advisory("DSA-0008-1", "Debian:12", "openssl", fixedAt("3.0.13-1~deb12u1")...),          // the source of libssl3
		advisory("DSA-0009-1", "Debian:11", "newpkg", fixedAt("9.0-1")...),                      // another release
		advisory("DSA-0010-1", "Debian:12", "removedpkg", fixedAt("9.0-1")...),                  // not installed
		rated(advisory("DSA-0011-1", "Debian:12", "newpkg", osv.Event{Introduced: "0"}), "low"), // unfixed
		rated(stdlib, "low"),
	}
}

func writeOSV(t *testing.T, advs []osv.Advisory) string {
	t.Helper()
	dir := t.TempDir()
	for _, a := range advs {
		raw, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, a.ID+".json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestImageCves(t *testing.T) {
	b, _ := analysedImage(t)
	dbPath := vuln.DefaultPath(b.root)

	// No database: a clear message, and no empty database left behind.
	_, stderr, code := b.try("", "image", "cves", "scan:1")
	if code != 1 || stderr != "Error: "+noVulnDBHint+"\n" {
		t.Errorf("cves without a database: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(dbPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cves created %s: %v", dbPath, err)
	}

	if out := b.run("vuln", "db", "import", writeOSV(t, crafted())); out != "Imported 11 advisories from 12 files into "+dbPath+" (1 withdrawn skipped)\n" {
		t.Errorf("import: %q", out)
	}
	goVersion := strings.TrimPrefix(runtime.Version(), "go") // as the Go advisories spell it
	out, stderr, code := b.try("", "image", "cves", "scan:1")
	if code != 0 {
		t.Fatalf("cves: exit %d: %s", code, stderr)
	}
	rows := lines(out)
	var got []string
	for _, r := range rows[1 : len(rows)-2] {
		got = append(got, strings.Join(strings.Fields(r), " "))
	}
	slices.Sort(got)
	want := []string{
		"DSA-0001-1 CRITICAL epochpkg 1:1.0-1 1:1.0-2",
		"DSA-0003-1 HIGH tildepkg 1.0~rc1-1 1.0-1",
		"DSA-0006-1 MEDIUM higherpkg 2.0-1 2.0-2",
		"DSA-0008-1 UNKNOWN libssl3 3.0.11-1~deb12u2 3.0.13-1~deb12u1",
		"DSA-0011-1 LOW newpkg 1.0-1 not fixed",
		"GO-2099-0001 LOW stdlib " + goVersion + " 99.0.0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("cves rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(strings.Fields(rows[0]), " ") != "ID SEVERITY PACKAGE INSTALLED FIXED IN" || rows[len(rows)-2] != "" ||
		rows[len(rows)-1] != "6 vulnerabilities found in 6 packages (CRITICAL 1, HIGH 1, MEDIUM 1, LOW 2, UNKNOWN 1)" {
		t.Errorf("cves table:\n%s", out)
	}

	// Filters and the exit code, as docker scout cves.
	for _, tt := range []struct {
		args []string
		code int
		ids  []string
	}{
		{[]string{"--only-severity", "critical,high"}, 0, []string{"DSA-0001-1", "DSA-0003-1"}},
		{[]string{"--only-severity", "critical,high", "--exit-code"}, 2, []string{"DSA-0001-1", "DSA-0003-1"}},
		{[]string{"--only-severity", "unspecified", "-e"}, 2, []string{"DSA-0008-1"}},
		{[]string{"--only-unfixed"}, 0, []string{"DSA-0011-1"}},
		{[]string{"--only-package-type", "golang", "--exit-code"}, 2, []string{"GO-2099-0001"}},
		{[]string{"--only-package", "openssl,epochpkg"}, 0, []string{"DSA-0001-1", "DSA-0008-1"}},
		{[]string{"--only-cve-id", "DSA-0006-1", "--exit-code"}, 2, []string{"DSA-0006-1"}},
		{[]string{"--only-severity", "medium", "--only-fixed", "--only-package", "epochpkg", "--exit-code"}, 0, nil},
	} {
		args := append(append([]string{"image", "cves", "--format", "json"}, tt.args...), "scan:1")
		out, stderr, code := b.try("", args...)
		var doc struct {
			Image           string
			Summary         struct{ Total int }
			Vulnerabilities []struct {
				ID string
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Errorf("%v: %v: %q %q", tt.args, err, out, stderr)
			continue
		}
		var ids []string
		for _, v := range doc.Vulnerabilities {
			ids = append(ids, v.ID)
		}
		slices.Sort(ids)
		if code != tt.code || !slices.Equal(ids, tt.ids) || doc.Summary.Total != len(tt.ids) || doc.Image != "scan:1" {
			t.Errorf("cves %v: exit %d, %v (image %q, total %d); want exit %d, %v", tt.args, code, ids, doc.Image, doc.Summary.Total, tt.code, tt.ids)
		}
	}

	var sarif struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			}
		}
	}
	if err := json.Unmarshal([]byte(b.run("image", "cves", "--format", "sarif", "scan:1")), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 6 {
		t.Errorf("sarif: %v %+v", err, sarif)
	}

	for _, tt := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"image", "cves", "--only-severity", "urgent", "scan:1"}, 125, `invalid argument "urgent" for "--only-severity" flag`},
		{[]string{"image", "cves", "--format", "csv", "scan:1"}, 125, `invalid argument "csv" for "--format" flag`},
		{[]string{"image", "cves", "--only-fixed", "--only-unfixed", "scan:1"}, 125, "cannot be used together"},
		{[]string{"image", "cves", "nope"}, 1, "Error: No such image: nope\n"},
	} {
		_, stderr, code := b.try("", tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("berth %s: exit %d, %q; want %d, %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.stderr)
		}
	}
}

// osvZip is an ecosystem export as OSV publishes it: all.zip of one JSON
// file per advisory.
func osvZip(t *testing.T, advs ...osv.Advisory) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, a := range advs {
		w, err := zw.Create(a.ID + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(w).Encode(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestVulnDB(t *testing.T) {
	b := newBerth(t)
	dbPath := vuln.DefaultPath(b.root)

	if _, stderr, code := b.try("", "vuln", "db", "info"); code != 1 || !strings.Contains(stderr, noVulnDBHint) {
		t.Errorf("info without a database: exit %d, %q", code, stderr)
	}

	// A mirror with OSV's layout; Go's export breaks on demand.
	exports := map[string][]byte{
		"/Debian/all.zip": osvZip(t, advisory("DSA-1-1", "Debian:12", "bash", fixedAt("5.2-1")...), advisory("DSA-2-1", "Debian:12", "zlib1g", fixedAt("1:1.3-1")...)),
		"/Go/all.zip":     osvZip(t, advisory("GO-2024-0001", "Go", "golang.org/x/net", fixedAt("0.23.0")...)),
	}
	var (
		mu       sync.Mutex
		brokenGo bool
		requests []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, r.URL.Path)
		body, ok := exports[r.URL.Path]
		if !ok || brokenGo && r.URL.Path == "/Go/all.zip" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()

	out := b.run("vuln", "db", "update", "--url", srv.URL, "--ecosystem", "Debian,Go")
	if !strings.HasSuffix(out, "Updated "+dbPath+": 3 advisories from Debian, Go\n") || !strings.Contains(out, "Debian: Download complete\n") {
		t.Errorf("update: %q", out)
	}
	mu.Lock()
	if !slices.Equal(requests, []string{"/Debian/all.zip", "/Go/all.zip"}) {
		t.Errorf("requests %v", requests)
	}
	mu.Unlock()
	b.run("vuln", "db", "import", writeOSV(t, []osv.Advisory{advisory("LOCAL-1", "npm", "left-pad", fixedAt("1.4.0")...)}))

	info := b.run("vuln", "db", "info")
	for _, want := range []string{"Database:    " + dbPath + "\n", "Advisories:  4\n", "Updated:     2"} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}
	var srcRows []string
	for _, l := range lines(info[strings.Index(info, "SOURCE"):]) {
		srcRows = append(srcRows, strings.Join(strings.Fields(l), " "))
	}
	if !slices.Equal(srcRows, []string{"SOURCE ADVISORIES", "import 1", "osv:Debian 2", "osv:Go 1"}) {
		t.Errorf("info sources %q", srcRows)
	}

	// A failed update changes nothing; a damaged file fails the import,
	// naming it, and changes nothing either.
	mu.Lock()
	exports["/Debian/all.zip"] = osvZip(t, advisory("DSA-1-1", "Debian:12", "bash", fixedAt("5.2-1")...))
	brokenGo = true
	mu.Unlock()
	if _, stderr, code := b.try("", "vuln", "db", "update", "--url", srv.URL, "--ecosystem", "Debian,Go"); code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("update from a broken mirror: exit %d, %q", code, stderr)
	}
	bad := writeOSV(t, []osv.Advisory{advisory("LOCAL-2", "npm", "x", fixedAt("1.0.0")...)})
	os.WriteFile(filepath.Join(bad, "broken.json"), []byte(`{"id": "LOCAL-3", "affected": [`), 0o644)
	if _, stderr, code := b.try("", "vuln", "db", "import", bad); code != 1 || !strings.Contains(stderr, "broken.json") {
		t.Errorf("import of a damaged file: exit %d, %q", code, stderr)
	}
	var doc struct {
		Path       string
		Advisories int
		Sources    map[string]int
	}
	if err := json.Unmarshal([]byte(b.run("vuln", "db", "info", "--format", "json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Path != dbPath || doc.Advisories != 4 || doc.Sources["osv:Debian"] != 2 || doc.Sources["import"] != 1 {
		t.Errorf("after failed update and import: %+v", doc)
	}

	// --db picks another database, such as a hub's.
	other := filepath.Join(t.TempDir(), "hub", "vuln", "osv.db")
	mu.Lock()
	brokenGo = false
	mu.Unlock()
	b.run("vuln", "db", "update", "--db", other, "--url", srv.URL, "--ecosystem", "Go")
	if got := b.run("vuln", "db", "info", "--db", other, "--format", "json"); !strings.Contains(got, `"osv:Go": 1`) {
		t.Errorf("info --db: %s", got)
	}
}
