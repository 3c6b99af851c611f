package cli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

// builderCommand is `berth builder`: the build cache.
func (a *app) builderCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "builder", Short: "Manage builds", Args: noArgs}
	var all, force bool
	var filters []string
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove build cache",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var until time.Time
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				if k != "until" {
					return errdefs.Newf(errdefs.ErrInvalid, "invalid filter %q: builder prune takes until=", f)
				}
				t, err := engine.ParseTime(v)
				if err != nil {
					return err
				}
				until = t
			}
			warning := "WARNING! This will remove all dangling build cache."
			if all {
				warning = "WARNING! This will remove all build cache."
			}
			if !force && !a.confirm(warning) {
				return nil
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			n, err := e.PruneBuildCache(cmd.Context(), all, until)
			if err != nil {
				return err
			}
			a.printPruned("", nil, n)
			return nil
		},
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "Remove all build cache, not just what no image uses")
	prune.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	prune.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=24h")`)
	cmd.AddCommand(prune)
	return cmd
}
