package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func (a *app) rmiCommand(use string) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				items, err := e.Remove(cmd.Context(), name, force)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, l := range deletedLines(items, "Untagged: ", "Deleted: ") {
					fmt.Fprintln(a.stdout, l)
				}
			}
			return a.errorList(errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

// deletedLines is an untagged or deleted line per item, with the prefixes
// the command uses (rmi and prune word them differently).
func deletedLines(items []engine.DeleteItem, untagged, deleted string) []string {
	lines := make([]string, 0, len(items))
	for _, it := range items {
		if it.Untagged != "" {
			lines = append(lines, untagged+it.Untagged)
		} else {
			lines = append(lines, deleted+it.Deleted)
		}
	}
	return lines
}
