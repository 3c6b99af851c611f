package sbom_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
)

func dpkgEntry(name, version string) string {
	return fmt.Sprintf("Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: %s\n\n", name, version)
}

func pyMetadata(name, version string) []byte {
	return []byte("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nLicense: MIT\n\nlong description\n")
}

// stackedLayers is a four-layer image exercising overlay semantics:
// layer 2 (the third) adds a dpkg package, layers 1 and 3 remove packages
// with a whiteout and an opaque directory.
func stackedLayers() []*sbomtest.Layer {
	pyDir := "usr/lib/python3/dist-packages/"
	return []*sbomtest.Layer{
		sbomtest.NewLayer(
			sbomtest.File("etc/os-release", []byte("ID=debian\nVERSION_ID=\"12\"\n")),
			sbomtest.File("var/lib/dpkg/status", []byte(dpkgEntry("base-files", "12.4")+dpkgEntry("tzdata", "2024a-0+deb12u1"))),
			sbomtest.File(pyDir+"requests-2.28.1.dist-info/METADATA", pyMetadata("requests", "2.28.1")),
			sbomtest.File(pyDir+"idna-3.3.dist-info/METADATA", pyMetadata("idna", "3.3")),
			sbomtest.File("app/node_modules/left-pad/package.json", []byte(`{"name":"left-pad","version":"1.3.0","license":"WTFPL"}`)),
			sbomtest.File("app/node_modules/lodash/package.json", []byte(`{"name":"lodash","version":"4.17.20"}`)),
		),
		sbomtest.NewLayer(
			sbomtest.Whiteout(pyDir + "idna-3.3.dist-info"),
		),
		sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status", []byte(dpkgEntry("base-files", "12.4")+dpkgEntry("tzdata", "2024a-0+deb12u1")+dpkgEntry("curl", "7.88.1-10+deb12u5"))),
		),
		sbomtest.NewLayer(
			sbomtest.Opaque("app/node_modules"),
			sbomtest.File("app/node_modules/lodash/package.json", []byte(`{"name":"lodash","version":"4.17.21"}`)),
		),
	}
}

type want struct {
	name, version string
	typ           sbom.Type
	layer         int
}

func checkStacked(t *testing.T, got *sbom.SBOM) {
	t.Helper()
	wants := []want{
		{"base-files", "12.4", sbom.TypeDeb, 0},
		{"curl", "7.88.1-10+deb12u5", sbom.TypeDeb, 2},
		{"lodash", "4.17.21", sbom.TypeNPM, 3},
		{"requests", "2.28.1", sbom.TypePython, 0},
		{"tzdata", "2024a-0+deb12u1", sbom.TypeDeb, 0},
	}
	if len(got.Packages) != len(wants) {
		t.Fatalf("got %d packages, want %d: %v", len(got.Packages), len(wants), names(got))
	}
	for i, w := range wants {
		p := got.Packages[i]
		if p.Name != w.name || p.Version != w.version || p.Type != w.typ || p.Layer.Index != w.layer {
			t.Errorf("package %d = %s %s %s layer %d, want %s %s %s layer %d", i, p.Name, p.Version, p.Type, p.Layer.Index, w.name, w.version, w.typ, w.layer)
		}
		if p.Layer.DiffID != got.Layers[w.layer] {
			t.Errorf("%s: diffID %s, want layer %d's %s", p.Name, p.Layer.DiffID, w.layer, got.Layers[w.layer])
		}
	}
	if got.Distro == nil || got.Distro.ID != "debian" || got.Distro.VersionID != "12" {
		t.Errorf("distro = %+v, want debian 12", got.Distro)
	}
	if len(got.Warnings) != 0 {
		t.Errorf("warnings: %v", got.Warnings)
	}
}

func names(s *sbom.SBOM) []string {
	var out []string
	for _, p := range s.Packages {
		out = append(out, fmt.Sprintf("%s@%s(L%d)", p.Name, p.Version, p.Layer.Index))
	}
	return out
}

func TestLayerOrderAndWhiteoutsTar(t *testing.T) {
	var layers []sbom.Layer
	for _, l := range stackedLayers() {
		layers = append(layers, l)
	}
	got, err := sbom.Inventory(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	checkStacked(t, got)
}

func TestLayerOrderAndWhiteoutsDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make overlayfs whiteouts (mknod) and trusted.* xattrs")
	}
	var layers []sbom.Layer
	for i, l := range stackedLayers() {
		dl, err := l.Unpack(t.TempDir())
		if err != nil {
			if strings.Contains(err.Error(), "not supported") {
				t.Skipf("layer %d: the temp filesystem cannot hold overlay whiteouts: %v", i, err)
			}
			t.Fatal(err)
		}
		layers = append(layers, dl)
	}
	got, err := sbom.Inventory(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	checkStacked(t, got)
}

// A file replacing a directory, and a symlink replacing a database, hide
// what was below as overlayfs does.
func TestReplacedPaths(t *testing.T) {
	layers := []sbom.Layer{
		sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status", []byte(dpkgEntry("bash", "5.2.15-2+b2"))),
			sbomtest.File("opt/py/six-1.16.0.dist-info/METADATA", pyMetadata("six", "1.16.0")),
		),
		sbomtest.NewLayer(
			sbomtest.Symlink("var/lib/dpkg/status", "/dev/null"),
			sbomtest.File("opt/py", []byte("now a file")),
		),
	}
	got, err := sbom.Inventory(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Packages) != 0 {
		t.Fatalf("hidden packages reported: %v", names(got))
	}
}

// A package whose version changes in a later layer belongs to that layer; one
// deleted and re-added belongs to the layer that added it again.
func TestAttributionAcrossVersions(t *testing.T) {
	layers := []sbom.Layer{
		sbomtest.NewLayer(sbomtest.File("lib/apk/db/installed", []byte("P:musl\nV:1.2.4-r2\nA:x86_64\n\nP:zlib\nV:1.3-r0\n\n"))),
		sbomtest.NewLayer(sbomtest.File("lib/apk/db/installed", []byte("P:musl\nV:1.2.4-r3\nA:x86_64\n\nP:zlib\nV:1.3-r0\n\n"))),
		sbomtest.NewLayer(sbomtest.Whiteout("lib/apk")),
		sbomtest.NewLayer(sbomtest.File("lib/apk/db/installed", []byte("P:musl\nV:1.2.4-r3\nA:x86_64\n\n"))),
	}
	got, err := sbom.Inventory(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Packages) != 1 || got.Packages[0].Name != "musl" || got.Packages[0].Layer.Index != 3 {
		t.Fatalf("got %v, want musl@1.2.4-r3 from layer 3", names(got))
	}
	got, err = sbom.Inventory(context.Background(), layers[:2])
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got); strings.Join(n, " ") != "musl@1.2.4-r3(L1) zlib@1.3-r0(L0)" {
		t.Fatalf("got %v", n)
	}
}
