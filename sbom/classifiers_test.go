package sbom_test

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
)

// Programs installed outside a package manager are recognised by the
// version they carry, and agree with what the program itself says.
func TestBinaryClassifiers(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		args       []string
		version    *regexp.Regexp
	}{
		{"busybox", "/bin/busybox", nil, regexp.MustCompile(`BusyBox v(\d+\.\d+\.\d+)`)},
		{"python3.11", "/usr/bin/python3.11", []string{"--version"}, regexp.MustCompile(`Python (\d+\.\d+\.\d+)`)},
		{"node", "/usr/bin/node", []string{"--version"}, regexp.MustCompile(`v(\d+\.\d+\.\d+)`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := os.ReadFile(tc.host)
			if err != nil {
				t.Skipf("%s is not on this machine to build the test image from: %v", tc.host, err)
			}
			out, _ := exec.Command(tc.host, tc.args...).CombinedOutput()
			m := tc.version.FindSubmatch(out)
			if m == nil {
				t.Fatalf("%s printed no version: %s", tc.host, out)
			}
			got := inventory(t, sbomtest.NewLayer(sbomtest.Exec("usr/local/bin/"+tc.name, body)))
			if len(got.Packages) != 1 {
				t.Fatalf("packages: %s", summary(got))
			}
			p := got.Packages[0]
			if p.Type != sbom.TypeBinary || p.Version != string(m[1]) || p.PURL != "pkg:generic/"+p.Name+"@"+p.Version {
				t.Errorf("got %s %s %s (%s), the program says %s", p.Type, p.Name, p.Version, p.PURL, m[1])
			}
		})
	}
}

// A program a package database owns is reported once, as its package.
func TestOwnedBinariesAreNotRepeated(t *testing.T) {
	body, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("no /bin/busybox (busybox-static) to build the test image from: %v", err)
	}
	status := []byte("Package: busybox-static\nStatus: install ok installed\nVersion: 1:1.35.0-4+b3\n")
	for _, tc := range []struct {
		name  string
		layer *sbomtest.Layer
		want  string
	}{
		{"dpkg list", sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status", status),
			sbomtest.File("var/lib/dpkg/info/busybox-static.list", []byte("/.\n/bin\n/bin/busybox\n")),
			sbomtest.Exec("bin/busybox", body)), "deb:busybox-static@1:1.35.0-4+b3"},
		{"dpkg list, merged /usr", sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status", status),
			sbomtest.File("var/lib/dpkg/info/busybox-static.list", []byte("/bin/busybox\n")),
			sbomtest.Exec("usr/bin/busybox", body)), "deb:busybox-static@1:1.35.0-4+b3"},
		{"distroless md5sums", sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status.d/busybox", []byte("Package: busybox-static\nVersion: 1:1.35.0-4+b3\n")),
			sbomtest.File("var/lib/dpkg/status.d/busybox.md5sums", []byte("0123456789abcdef0123456789abcdef  bin/busybox\n")),
			sbomtest.Exec("bin/busybox", body)), "deb:busybox-static@1:1.35.0-4+b3"},
		{"apk", sbomtest.NewLayer(
			sbomtest.File("lib/apk/db/installed", []byte("P:busybox\nV:1.36.1-r15\nF:bin\nR:busybox\n")),
			sbomtest.Exec("bin/busybox", body)), "apk:busybox@1.36.1-r15"},
		{"not owned", sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status", status),
			sbomtest.File("var/lib/dpkg/info/busybox-static.list", []byte("/bin/busybox\n")),
			sbomtest.Exec("opt/busybox", body)), "binary:busybox@1.35.0 deb:busybox-static@1:1.35.0-4+b3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(inventory(t, tc.layer)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
