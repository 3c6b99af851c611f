package vuln_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
	"github.com/berth-dev/berth/vuln"
)

// Ubuntu's and the rpm distros' advisories apply to their own release, in
// their own version order.
func TestMatchReleases(t *testing.T) {
	db := openDB(t,
		adv("USN-1", "Ubuntu:22.04:LTS", "openssl", intro("0"), fixed("3.0.2-0ubuntu1.15")),
		adv("USN-PRO", "Ubuntu:Pro:22.04:LTS", "openssl", intro("0"), fixed("9.9")),
		adv("USN-OLD", "Ubuntu:20.04:LTS", "openssl", intro("0"), fixed("9.9")),
		adv("ALSA-1", "AlmaLinux:9", "glibc", intro("0"), fixed("2.34-100.el9_4.2")),
		adv("ALSA-EPOCH", "AlmaLinux:9", "openssl", intro("0"), fixed("1:3.0.7-27.el9")),
		adv("ALSA-8", "AlmaLinux:8", "glibc", intro("0"), fixed("9.9")),
	)
	for _, tc := range []struct {
		distro *sbom.Distro
		pkgs   []sbom.Package
		want   []string
	}{
		{&sbom.Distro{ID: "ubuntu", VersionID: "22.04"},
			[]sbom.Package{{Name: "libssl3", Version: "3.0.2-0ubuntu1.14", Type: sbom.TypeDeb, Source: "openssl"}},
			[]string{"USN-1 libssl3 3.0.2-0ubuntu1.14 fixed:3.0.2-0ubuntu1.15"}},
		{&sbom.Distro{ID: "almalinux", VersionID: "9.3"},
			[]sbom.Package{
				{Name: "glibc", Version: "2.34-100.el9_4.1", Type: sbom.TypeRPM, Source: "glibc", SourceVersion: "2.34-100.el9_4.1"},
				{Name: "openssl-libs", Version: "1:3.0.7-28.el9", Type: sbom.TypeRPM, Source: "openssl", SourceVersion: "3.0.7-28.el9"},
			},
			[]string{"ALSA-1 glibc 2.34-100.el9_4.1 fixed:2.34-100.el9_4.2"}},
		{nil, []sbom.Package{{Name: "glibc", Version: "1", Type: sbom.TypeRPM}}, nil},
	} {
		res, err := vuln.Match(context.Background(), db, &sbom.SBOM{Distro: tc.distro, Packages: tc.pkgs})
		if err != nil {
			t.Fatal(err)
		}
		if got := findingsSummary(res); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.distro, got, tc.want)
		}
		if tc.distro == nil && (len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "OS packages not matched")) {
			t.Errorf("no warning for OS packages without a distro: %v", res.Warnings)
		}
	}
}

// This machine's own Debian packages, inventoried as an image, against
// advisories written for their real names and versions: the ones fixed
// later than installed are reported, through source packages where the
// binary package's name differs.
func TestMatchHostDebian(t *testing.T) {
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skipf("no dpkg database on this machine: %v", err)
	}
	osRelease, err := os.ReadFile("/usr/lib/os-release")
	if err != nil {
		t.Skipf("no os-release: %v", err)
	}
	s, err := sbom.Inventory(context.Background(), []sbom.Layer{sbomtest.NewLayer(
		sbomtest.File("usr/lib/os-release", osRelease),
		sbomtest.Symlink("etc/os-release", "../usr/lib/os-release"),
		sbomtest.File("var/lib/dpkg/status", status),
	)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Distro == nil || s.Distro.ID != "debian" {
		t.Skipf("not a Debian machine: %+v", s.Distro)
	}
	eco := "Debian:" + s.Distro.VersionID
	// pick a package built from a differently named source, as libc6 from glibc
	var bin *sbom.Package
	for i := range s.Packages {
		if p := &s.Packages[i]; p.Source != "" && p.Source != p.Name {
			bin = p
			break
		}
	}
	if bin == nil {
		t.Skip("no installed package names a different source package")
	}
	srcVersion := bin.SourceVersion
	if srcVersion == "" {
		srcVersion = bin.Version
	}
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "base-files").Output()
	if err != nil {
		t.Skipf("dpkg-query: %v", err)
	}
	baseFiles := string(out)
	db := openDB(t,
		adv("DEBIAN-CVE-SRC", eco, bin.Source, intro("0"), fixed(srcVersion+"+fix1")),
		adv("DEBIAN-CVE-EQUAL", eco, "base-files", intro("0"), fixed(baseFiles)),
		adv("DEBIAN-CVE-BASE", eco, "base-files", intro("0"), fixed(baseFiles+"~older")),
		adv("DEBIAN-CVE-NEXT", eco, "base-files", intro("0"), fixed(baseFiles+".1")),
	)
	res, err := vuln.Match(context.Background(), db, s)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range res.Findings {
		ids = append(ids, f.ID)
		if f.ID == "DEBIAN-CVE-SRC" && f.MatchedName != bin.Source {
			t.Errorf("source advisory matched through %s", f.MatchedName)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if !slices.Equal(ids, []string{"DEBIAN-CVE-NEXT", "DEBIAN-CVE-SRC"}) {
		t.Errorf("findings %v, want DEBIAN-CVE-NEXT and DEBIAN-CVE-SRC (source %s of %s)", ids, bin.Source, bin.Name)
	}
}
