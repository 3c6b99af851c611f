// Package format writes an inventory as `berth image sbom --format` shows
// it: a table, berth's JSON, SPDX 2.3 JSON or CycloneDX 1.6 JSON.
package format

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/sbom"
)

// Formats lists the names Write accepts, the default first.
var Formats = []string{"table", "json", "spdx-json", "cyclonedx-json"}

// Document describes the image an SBOM document is about.
type Document struct {
	// Name is the image as the user named it ("nginx:latest").
	Name string
	// ImageID is the image's config digest, if known.
	ImageID string
	// Created is the document's creation time; now when zero.
	Created time.Time
}

// Write writes s in the named format.
func Write(w io.Writer, format string, s *sbom.SBOM, doc Document) error {
	if doc.Created.IsZero() {
		doc.Created = time.Now().UTC()
	}
	switch format {
	case "", "table":
		return WriteTable(w, s)
	case "json":
		return WriteJSON(w, s)
	case "spdx-json":
		return WriteSPDX(w, s, doc)
	case "cyclonedx-json":
		return WriteCycloneDX(w, s, doc)
	}
	return fmt.Errorf("unknown format %q (want table, json, spdx-json or cyclonedx-json): %w", format, errdefs.ErrInvalid)
}

// WriteTable writes NAME VERSION TYPE LAYER, one package a line; LAYER
// counts from 1 at the lowest layer, as the layers are usually numbered.
func WriteTable(w io.Writer, s *sbom.SBOM) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tTYPE\tLAYER")
	for _, p := range s.Packages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Type, strconv.Itoa(p.Layer.Index+1))
	}
	return tw.Flush()
}

// WriteJSON writes the inventory as berth's own JSON document.
func WriteJSON(w io.Writer, s *sbom.SBOM) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
