package format

import (
	"fmt"
	"io"
	"strconv"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/berth-dev/berth/sbom"
)

// WriteCycloneDX writes a CycloneDX 1.6 JSON document: the image as the
// metadata component, each package a library (or operating-system package)
// component with its purl, licenses and the layer that added it.
func WriteCycloneDX(w io.Writer, s *sbom.SBOM, d Document) error {
	bom := cdx.NewBOM()
	name := d.Name
	if name == "" {
		name = "image"
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: d.Created.UTC().Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "berth"}}},
		Component: &cdx.Component{Type: cdx.ComponentTypeContainer, Name: name, Version: d.ImageID, BOMRef: "image"},
	}
	comps := make([]cdx.Component, 0, len(s.Packages))
	for i, p := range s.Packages {
		c := cdx.Component{
			BOMRef:     fmt.Sprintf("pkg-%d", i),
			Type:       cdx.ComponentTypeLibrary,
			Name:       p.Name,
			Version:    p.Version,
			PackageURL: p.PURL,
			Properties: &[]cdx.Property{
				{Name: "berth:package:type", Value: string(p.Type)},
				{Name: "berth:location:path", Value: p.Path},
				{Name: "berth:layer:index", Value: strconv.Itoa(p.Layer.Index)},
				{Name: "berth:layer:diffID", Value: p.Layer.DiffID.String()},
			},
		}
		if len(p.Licenses) > 0 {
			var ls cdx.Licenses
			for _, l := range p.Licenses {
				ls = append(ls, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
			c.Licenses = &ls
		}
		comps = append(comps, c)
	}
	bom.Components = &comps
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	return enc.EncodeVersion(bom, cdx.SpecVersion1_6)
}
