package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/vuln"
)

// vulnCommand is `berth vuln`: the offline vulnerability database that
// `berth image cves` matches images against.
func (a *app) vulnCommand() *cobra.Command {
	c := &cobra.Command{Use: "vuln", Short: "Manage the vulnerability database"}
	db := &cobra.Command{
		Use:   "db",
		Short: "Import, update and describe the offline vulnerability database",
		Long: `The vulnerability database holds OSV advisories in one SQLite file, by
default under the store root (vuln/osv.db); --db points at another one, such
as a hub's (<hub root>/vuln/osv.db).`,
	}
	db.AddCommand(a.vulnImportCommand(), a.vulnUpdateCommand(), a.vulnInfoCommand())
	c.AddCommand(db)
	return c
}

func (a *app) vulnDBFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "db", "", "Database file (default <store root>/vuln/osv.db)")
}

func (a *app) vulnDBPath(path string) string {
	if path != "" {
		return path
	}
	return vuln.DefaultPath(a.storeRoot)
}

func (a *app) vulnImportCommand() *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|DIR [FILE|DIR...]",
		Short: "Import OSV advisories: JSON files, OSV's zip exports, or directories of them",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := vuln.Open(ctx, a.vulnDBPath(dbPath))
			if err != nil {
				return err
			}
			defer db.Close()
			p := newCountProgress(a.stderr, "Importing", "advisories")
			st, err := db.Import(ctx, vuln.ImportOptions{Progress: func(v vuln.Progress) { p.update(v.Done, -1) }}, args...)
			p.finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Imported %d %s from %d %s into %s", st.Advisories, plural(st.Advisories, "advisory", "advisories"), st.Files, plural(st.Files, "file", "files"), db.Path())
			if st.Withdrawn > 0 {
				fmt.Fprintf(a.stdout, " (%d withdrawn skipped)", st.Withdrawn)
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	a.vulnDBFlag(cmd, &dbPath)
	return cmd
}

func (a *app) vulnUpdateCommand() *cobra.Command {
	var dbPath, url string
	var ecosystems []string
	cmd := &cobra.Command{
		Use:   "update [OPTIONS]",
		Short: "Download OSV's per-ecosystem exports from a mirror and replace what an earlier update stored",
		Long: `Download each ecosystem's export (<url>/<Ecosystem>/all.zip, OSV's layout) and
replace what an earlier update stored for it, in one transaction: a failed
download leaves the database as it was. Advisories imported by hand stay.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := vuln.Open(ctx, a.vulnDBPath(dbPath))
			if err != nil {
				return err
			}
			defer db.Close()
			view := newProgressView(a.stdout)
			st, err := db.Update(ctx, vuln.UpdateOptions{
				BaseURL: url, Ecosystems: ecosystems, TempDir: os.TempDir(),
				Progress: func(v vuln.Progress) { view.update(updateProgress(v, view.tty)) },
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Updated %s: %d %s from %s", db.Path(), st.Advisories, plural(st.Advisories, "advisory", "advisories"), strings.Join(ecosystems, ", "))
			if st.Withdrawn > 0 {
				fmt.Fprintf(a.stdout, " (%d withdrawn skipped)", st.Withdrawn)
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	a.vulnDBFlag(cmd, &dbPath)
	f := cmd.Flags()
	f.StringVar(&url, "url", vuln.DefaultMirror, "Mirror serving <url>/<Ecosystem>/all.zip")
	f.StringSliceVar(&ecosystems, "ecosystem", slices.Clone(vuln.DefaultEcosystems), "Ecosystems to fetch, comma separated or repeated")
	return cmd
}

// updateProgress shows an update as per-ecosystem lines, as a pull shows
// layers; off a terminal only the phases, not every thousand advisories.
func updateProgress(v vuln.Progress, tty bool) engine.Progress {
	if v.Phase == "download" {
		ev := engine.Progress{ID: v.Ecosystem, Status: "Downloading", Current: v.Done, Total: v.Total}
		if v.Total >= 0 && v.Done >= v.Total {
			ev = engine.Progress{ID: v.Ecosystem, Status: "Download complete"}
		}
		return ev
	}
	if !tty {
		return engine.Progress{ID: v.Ecosystem, Status: "Importing"}
	}
	return engine.Progress{ID: v.Ecosystem, Status: fmt.Sprintf("Importing %d advisories", v.Done)}
}

func (a *app) vulnInfoCommand() *cobra.Command {
	var dbPath, format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Show what the vulnerability database holds and when it was last updated",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			path := a.vulnDBPath(dbPath)
			// Asking must not create an empty database.
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s (%s does not exist)", noVulnDBHint, path)
			}
			db, err := vuln.Open(ctx, path)
			if err != nil {
				return err
			}
			defer db.Close()
			info, err := db.Info(ctx)
			if err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			case "", "table":
			default:
				return flagValueError("format", format, errors.New("want table or json"))
			}
			fmt.Fprintf(a.stdout, "Database:    %s\n", info.Path)
			fmt.Fprintf(a.stdout, "Advisories:  %d\n", info.Advisories)
			updated := "never"
			if !info.Updated.IsZero() {
				updated = info.Updated.Local().Format(time.RFC3339) + " (" + units.HumanDuration(time.Since(info.Updated)) + " ago)"
			}
			fmt.Fprintf(a.stdout, "Updated:     %s\n\n", updated)
			sources := make([]string, 0, len(info.Sources))
			for s := range info.Sources {
				sources = append(sources, s)
			}
			slices.Sort(sources)
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tADVISORIES")
			for _, s := range sources {
				fmt.Fprintf(tw, "%s\t%d\n", s, info.Sources[s])
			}
			return tw.Flush()
		},
	}
	a.vulnDBFlag(cmd, &dbPath)
	cmd.Flags().StringVar(&format, "format", "table", "Output format (table or json)")
	return cmd
}
