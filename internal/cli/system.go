package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

func (a *app) systemCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage berth"}
	cmd.AddCommand(a.dfCommand(), a.checkCommand())
	return cmd
}

func (a *app) dfCommand() *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show disk usage",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			du, err := e.DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			f, err := newFormatter(a.stdout, format, "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
				map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"})
			if err != nil {
				return err
			}
			// Images: what containers use is not reclaimable; shared layers count once.
			var active int
			var used int64
			for _, img := range du.Images {
				if img.Containers > 0 {
					active++
					used += img.Size - img.SharedSize
				}
			}
			rows := []dfRow{
				{Type: "Images", TotalCount: len(du.Images), ActiveCount: active, size: du.LayersSize, reclaimable: du.LayersSize - used},
				{Type: "Containers", TotalCount: len(du.Containers)},
				{Type: "Local Volumes", TotalCount: len(du.Volumes)},
				buildCacheRow(du.BuildCache),
			}
			for _, c := range du.Containers {
				rows[1].size += c.Size
				if c.Running {
					rows[1].ActiveCount++
				} else {
					rows[1].reclaimable += c.Size
				}
			}
			for _, v := range du.Volumes {
				rows[2].size += v.Size
				if v.InUse {
					rows[2].ActiveCount++
				} else {
					rows[2].reclaimable += v.Size
				}
			}
			for _, r := range rows {
				js := map[string]any{"Type": r.Type, "TotalCount": r.TotalCount, "Active": r.Active(), "Size": r.Size(), "Reclaimable": r.Reclaimable()}
				if err := f.item(r, js); err != nil {
					return err
				}
			}
			if err := f.flush(); err != nil || !verbose || format != "" {
				return err
			}
			if err := a.printBuildCache(du.BuildCache); err != nil {
				return err
			}
			return a.printKeptBlobs(du.KeptBlobs)
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

// buildCacheRow is `system df`'s Build Cache row, counted as Docker's:
// shared entries are in the total but not the size.
func buildCacheRow(bc []engine.BuildCacheUsage) dfRow {
	r := dfRow{Type: "Build Cache", TotalCount: len(bc)}
	for _, c := range bc {
		if !c.Shared {
			r.size += c.Size
			r.reclaimable += c.Size
		}
	}
	return r
}

// printBuildCache is `system df -v`'s "Build cache usage:" section, in
// Docker's words. The store does not track when or how often an entry was
// used, so LAST USED and USAGE are left empty.
func (a *app) printBuildCache(bc []engine.BuildCacheUsage) error {
	fmt.Fprintf(a.stdout, "\nBuild cache usage: %s\n\n", buildCacheRow(bc).Size())
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED")
	now := time.Now()
	for _, c := range bc {
		id := c.ID
		if len(id) > 12 {
			id = id[:12]
		}
		last := ""
		if !c.LastUsed.IsZero() {
			last = units.HumanDuration(now.Sub(c.LastUsed)) + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\t%t\n", id, c.Type, units.HumanSize(float64(c.Size)),
			units.HumanDuration(now.Sub(c.Created))+" ago", last, c.Shared)
	}
	return tw.Flush()
}

// printKeptBlobs lists, for `system df -v`, the layer blobs kept beside
// the unpacked layers (most layers keep none: their files and tar-split
// record give their tar back) and why each is kept.
func (a *app) printKeptBlobs(kept []engine.KeptBlob) error {
	fmt.Fprintln(a.stdout, "\nLayer blobs kept beside the unpacked layers:")
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tBLOB\tSIZE\tWHY")
	for _, k := range kept {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", image.ShortID(k.DiffID), image.ShortID(k.Blob), units.HumanSize(float64(k.Size)), k.Why)
	}
	return tw.Flush()
}

type dfRow struct {
	Type                    string
	TotalCount, ActiveCount int
	size, reclaimable       int64
}

func (r dfRow) Active() string { return fmt.Sprint(r.ActiveCount) }
func (r dfRow) Size() string   { return units.HumanSize(float64(r.size)) }
func (r dfRow) Reclaimable() string {
	s := units.HumanSize(float64(r.reclaimable))
	if r.size > 0 && r.Type != "Build Cache" {
		s += fmt.Sprintf(" (%d%%)", r.reclaimable*100/r.size)
	}
	return s
}

func (a *app) checkCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Verify the local store: re-hash every blob, check every layer and what images and containers reach",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			var progress func(string)
			if isTerminal(a.stderr) && format == "" {
				progress = func(s string) { fmt.Fprintln(a.stderr, s+"…") }
			}
			r, err := e.Check(cmd.Context(), progress)
			if err != nil {
				return err
			}
			if format == "json" {
				b, _ := json.Marshal(r)
				fmt.Fprintln(a.stdout, string(b))
			} else {
				for _, p := range r.Problems {
					fmt.Fprintln(a.stdout, p)
				}
				fmt.Fprintf(a.stdout, "Checked %d blobs, %d layers, %d images: %d problems.\n", r.Blobs, r.Layers, r.Images, len(r.Problems))
				if r.UnreferencedBlobs+r.UnreferencedLayers > 0 {
					fmt.Fprintf(a.stdout, "%d blobs and %d layers are not used by any image (reclaimed by the next rmi or prune).\n", r.UnreferencedBlobs, r.UnreferencedLayers)
				}
			}
			if len(r.Problems) > 0 {
				return exitStatus(exitFailure)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "'json' for a JSON report")
	return cmd
}
