package cli

import (
	"github.com/spf13/cobra"
)

// builderCommand is `berth builder`: the build cache.
func (a *app) builderCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "builder", Short: "Manage builds", Args: noArgs}
	var all, force bool
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove build cache",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			n, err := e.PruneBuildCache(cmd.Context(), all)
			if err != nil {
				return err
			}
			a.printPruned("", nil, n)
			return nil
		},
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "Remove all build cache, not just what no image uses")
	prune.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.AddCommand(prune)
	return cmd
}
