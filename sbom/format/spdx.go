package format

import (
	"crypto/sha256"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/berth-dev/berth/sbom"
)

var spdxIDChars = regexp.MustCompile(`[^A-Za-z0-9.\-]+`)

// WriteSPDX writes an SPDX 2.3 JSON document: one package per inventory
// package, each DESCRIBED by the document, with its purl as an external
// reference. The namespace is derived from the image and the contents, so
// the same image gives the same namespace.
func WriteSPDX(w io.Writer, s *sbom.SBOM, d Document) error {
	name := d.Name
	if name == "" {
		name = "image"
	}
	h := sha256.New()
	fmt.Fprintln(h, d.Name, d.ImageID)
	for _, l := range s.Layers {
		fmt.Fprintln(h, l)
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: fmt.Sprintf("https://berth.dev/spdx/%s-%x", spdxIDChars.ReplaceAllString(name, "-"), h.Sum(nil)[:8]),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "berth"}},
			Created:  d.Created.UTC().Format(time.RFC3339),
		},
	}
	used := map[string]int{}
	for _, p := range s.Packages {
		id := spdxIDChars.ReplaceAllString(string(p.Type)+"-"+p.Name+"-"+p.Version, "-")
		used[id]++
		if n := used[id]; n > 1 {
			id = fmt.Sprintf("%s-%d", id, n)
		}
		license := "NOASSERTION"
		if len(p.Licenses) > 0 {
			license = strings.Join(p.Licenses, " AND ")
		}
		pkg := &spdx.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   common.ElementID("Package-" + id),
			PackageVersion:          p.Version,
			PackageDownloadLocation: "NOASSERTION",
			FilesAnalyzed:           false,
			PackageLicenseConcluded: "NOASSERTION",
			PackageLicenseDeclared:  "NOASSERTION",
			PackageCopyrightText:    "NOASSERTION",
			PackageSourceInfo:       fmt.Sprintf("found in %s, layer %d (%s)", p.Path, p.Layer.Index+1, p.Layer.DiffID),
			PackageExternalReferences: []*spdx.PackageExternalReference{
				{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL},
			},
		}
		if len(p.Licenses) > 0 {
			// recorded licenses are free text as often as SPDX expressions
			pkg.PackageLicenseComments = "recorded license: " + license
		}
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", "DOCUMENT"),
			RefB:         common.MakeDocElementID("", "Package-"+id),
			Relationship: "DESCRIBES",
		})
	}
	return spdxjson.Write(doc, w, spdxjson.Indent("  "))
}
