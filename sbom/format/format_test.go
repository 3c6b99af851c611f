package format_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/format"
)

func sample() *sbom.SBOM {
	l0 := "sha256:" + strings.Repeat("a", 64)
	l1 := "sha256:" + strings.Repeat("b", 64)
	return &sbom.SBOM{
		Layers: []digest.Digest{digest.Digest(l0), digest.Digest(l1)},
		Distro: &sbom.Distro{ID: "debian", VersionID: "12"},
		Packages: []sbom.Package{
			{Name: "curl", Version: "7.88.1-10+deb12u5", Type: sbom.TypeDeb, PURL: "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12", Path: "/var/lib/dpkg/status", Layer: sbom.LayerRef{Index: 1, DiffID: digest.Digest(l1)}},
			{Name: "golang.org/x/net", Version: "v0.17.0", Type: sbom.TypeGo, PURL: "pkg:golang/golang.org/x/net@v0.17.0", Path: "/usr/bin/app", Layer: sbom.LayerRef{Index: 0, DiffID: digest.Digest(l0)}},
			{Name: "requests", Version: "2.31.0", Type: sbom.TypePython, PURL: "pkg:pypi/requests@2.31.0", Licenses: []string{"Apache-2.0"}, Path: "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", Layer: sbom.LayerRef{Index: 0, DiffID: digest.Digest(l0)}},
			{Name: "requests", Version: "2.31.0", Type: sbom.TypePython, PURL: "pkg:pypi/requests@2.31.0", Path: "/opt/venv/lib/requests-2.31.0.dist-info/METADATA", Layer: sbom.LayerRef{Index: 1, DiffID: digest.Digest(l1)}},
		},
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := format.Write(&b, "table", sample(), format.Document{}); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAME               VERSION             TYPE     LAYER\n" +
		"curl               7.88.1-10+deb12u5   deb      2\n" +
		"golang.org/x/net   v0.17.0             golang   1\n" +
		"requests           2.31.0              pypi     1\n" +
		"requests           2.31.0              pypi     2\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := format.Write(&b, "json", sample(), format.Document{}); err != nil {
		t.Fatal(err)
	}
	var back sbom.SBOM
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Packages) != 4 || back.Packages[0].Layer.Index != 1 || back.Distro.VersionID != "12" || back.Packages[2].Licenses[0] != "Apache-2.0" {
		t.Errorf("round trip lost data: %+v", back)
	}
}

func TestSPDX(t *testing.T) {
	var b bytes.Buffer
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := format.Write(&b, "spdx-json", sample(), format.Document{Name: "app:1", Created: created}); err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(&b)
	if err != nil {
		t.Fatalf("SPDX reader rejects the document: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DocumentName != "app:1" || doc.CreationInfo.Created != "2024-05-01T12:00:00Z" {
		t.Errorf("document header: %s %s %s", doc.SPDXVersion, doc.DocumentName, doc.CreationInfo.Created)
	}
	if len(doc.Packages) != 4 || len(doc.Relationships) != 4 {
		t.Fatalf("%d packages, %d relationships", len(doc.Packages), len(doc.Relationships))
	}
	ids := map[string]bool{}
	for i, p := range doc.Packages {
		want := sample().Packages[i]
		if p.PackageName != want.Name || p.PackageVersion != want.Version || p.PackageExternalReferences[0].Locator != want.PURL {
			t.Errorf("package %d: %s %s %s", i, p.PackageName, p.PackageVersion, p.PackageExternalReferences[0].Locator)
		}
		if ids[string(p.PackageSPDXIdentifier)] {
			t.Errorf("duplicate SPDX id %s", p.PackageSPDXIdentifier)
		}
		ids[string(p.PackageSPDXIdentifier)] = true
	}
}

func TestCycloneDX(t *testing.T) {
	var b bytes.Buffer
	if err := format.Write(&b, "cyclonedx-json", sample(), format.Document{Name: "app:1", ImageID: "sha256:cc"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"specVersion": "1.6"`) {
		t.Errorf("not CycloneDX 1.6:\n%s", b.String()[:200])
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(&b, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.Metadata.Component.Name != "app:1" || bom.Metadata.Component.Type != cdx.ComponentTypeContainer {
		t.Errorf("metadata component %+v", bom.Metadata.Component)
	}
	comps := *bom.Components
	if len(comps) != 4 || comps[2].PackageURL != "pkg:pypi/requests@2.31.0" || (*comps[2].Licenses)[0].License.Name != "Apache-2.0" {
		t.Errorf("components: %+v", comps)
	}
}

func TestUnknownFormat(t *testing.T) {
	err := format.Write(&bytes.Buffer{}, "xml", sample(), format.Document{})
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("unknown format: %v", err)
	}
}
