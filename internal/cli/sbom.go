package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/format"
)

type sbomOptions struct {
	format string
	output string
}

// imageSbomCommand is `berth image sbom`, the inventory of an image's
// packages and libraries (as `docker sbom` shows it).
func (a *app) imageSbomCommand() *cobra.Command {
	var o sbomOptions
	cmd := &cobra.Command{
		Use:   "sbom [OPTIONS] IMAGE",
		Short: "List the packages and libraries installed in an image",
		Long: `List the packages and libraries installed in an image: OS packages (dpkg,
apk, rpm), Go and Rust binaries, Python, Node and Java libraries, each with the
layer that added it. Formats: table (NAME VERSION TYPE LAYER), json (berth's
own), spdx-json (SPDX 2.3), cyclonedx-json (CycloneDX 1.6).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runSbom(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "table", "Output format ("+strings.Join(format.Formats, ", ")+")")
	f.StringVarP(&o.output, "output", "o", "", "Write the report to a file")
	return cmd
}

func (a *app) runSbom(ctx context.Context, name string, o sbomOptions) error {
	if !slices.Contains(format.Formats, o.format) {
		return flagValueError("format", o.format, fmt.Errorf("want one of %s", strings.Join(format.Formats, ", ")))
	}
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	p := newCountProgress(a.stderr, "Reading layers", "")
	inv, err := e.Inventory(ctx, name, p.layers)
	p.finish()
	if err != nil {
		return err
	}
	a.printSbomWarnings(inv.SBOM)
	doc := format.Document{Name: name, ImageID: inv.ID.String()}
	return a.writeOutput(o.output, func(w io.Writer) error {
		return format.Write(w, o.format, inv.SBOM, doc)
	})
}

// printSbomWarnings tells the user, one line each, which files could not
// be read; the inventory went on without them.
func (a *app) printSbomWarnings(s *sbom.SBOM) {
	for _, w := range s.Warnings {
		fmt.Fprintf(a.stderr, "WARNING: %s (layer %d): %s\n", w.Path, w.Layer+1, w.Err)
	}
}
