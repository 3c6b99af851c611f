package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/vuln/report"
)

type cvesOptions struct {
	format       string
	output       string
	onlySeverity string
	exitCode     bool
	sel          report.Selection
}

// noVulnDBHint is what to do when there is nothing to match against.
const noVulnDBHint = "no vulnerability database: run berth vuln db import FILE or berth vuln db update"

// imageCvesCommand is `berth image cves`, the known vulnerabilities of an
// image's packages, with the flags of `docker scout cves` that make sense
// offline.
func (a *app) imageCvesCommand() *cobra.Command {
	var o cvesOptions
	cmd := &cobra.Command{
		Use:   "cves [OPTIONS] IMAGE",
		Short: "List the known vulnerabilities of an image's packages",
		Long: `List the known vulnerabilities of an image's packages, from the offline
vulnerability database (fill it with 'berth vuln db import' or 'berth vuln db
update'): ID, SEVERITY, PACKAGE, INSTALLED, FIXED IN, and a summary line.
With --exit-code the command exits 2 when vulnerabilities remain after the
filters.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCves(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "table", "Output format ("+strings.Join(report.Formats, ", ")+")")
	f.StringVarP(&o.output, "output", "o", "", "Write the report to a file")
	f.StringVar(&o.onlySeverity, "only-severity", "", "Comma separated list of severities (critical, high, medium, low, unspecified) to filter CVEs by")
	f.BoolVarP(&o.exitCode, "exit-code", "e", false, "Return exit code '2' if vulnerabilities are detected")
	f.BoolVar(&o.sel.Fixed, "only-fixed", false, "Filter to fixable CVEs")
	f.BoolVar(&o.sel.Unfixed, "only-unfixed", false, "Filter to unfixed CVEs")
	f.StringSliceVar(&o.sel.PackageTypes, "only-package-type", nil, "Comma separated list of package types (like deb, apk, golang, npm, pypi)")
	f.StringSliceVar(&o.sel.Packages, "only-package", nil, "Comma separated list of package names")
	f.StringSliceVar(&o.sel.IDs, "only-cve-id", nil, "Comma separated list of CVE ids (like CVE-2021-45105) to search for")
	return cmd
}

func (a *app) runCves(ctx context.Context, name string, o cvesOptions) error {
	if !slices.Contains(report.Formats, o.format) {
		return flagValueError("format", o.format, fmt.Errorf("want one of %s", strings.Join(report.Formats, ", ")))
	}
	sevs, err := report.ParseSeverities(o.onlySeverity)
	if err != nil {
		return flagValueError("only-severity", o.onlySeverity, err)
	}
	if o.sel.Fixed && o.sel.Unfixed {
		return statusError{msg: "--only-fixed and --only-unfixed cannot be used together", code: exitBadUsage}
	}
	o.sel.Severities = sevs
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	p := newCountProgress(a.stderr, "Reading layers", "")
	res, err := e.Vulnerabilities(ctx, name, p.layers)
	p.finish()
	if errors.Is(err, engine.ErrNoVulnDB) {
		return errors.New(noVulnDBHint)
	}
	if err != nil {
		return err
	}
	a.printSbomWarnings(res.SBOM)
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "WARNING: %s\n", w)
	}
	findings := o.sel.Select(res.Findings)
	if err := a.writeOutput(o.output, func(w io.Writer) error {
		return report.Write(w, o.format, name, findings)
	}); err != nil {
		return err
	}
	if code := report.ExitCode(findings, o.exitCode); code != 0 {
		return exitStatus(code)
	}
	return nil
}
