package cli

import (
	"bufio"
	"fmt"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func (a *app) imagePruneCommand() *cobra.Command {
	var all, force, compressed bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keep, err := engine.ImagePruneKeep(filters)
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !a.confirm(warning) {
				return nil
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := e.Prune(cmd.Context(), all, keep)
			if err != nil {
				return err
			}
			if compressed {
				n, err := e.PruneCompressed(cmd.Context())
				if err != nil {
					return err
				}
				rep.SpaceReclaimed += n
			}
			a.printPruned("Deleted Images:", deletedLines(rep.Deleted, "untagged: ", "deleted: "), rep.SpaceReclaimed)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVar(&compressed, "compressed", false, "Also drop the compressed blobs kept with pulled layers (a push compresses them again)")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// printPruned reports a prune as Docker does: a heading and a line per
// object removed (when any was), then the space reclaimed.
func (a *app) printPruned(heading string, removed []string, space int64) {
	if len(removed) > 0 {
		fmt.Fprintln(a.stdout, heading)
		for _, r := range removed {
			fmt.Fprintln(a.stdout, r)
		}
		fmt.Fprintln(a.stdout)
	}
	fmt.Fprintln(a.stdout, "Total reclaimed space:", units.HumanSize(float64(space)))
}

// confirm asks Docker's question and reads the answer from stdin.
func (a *app) confirm(warning string) bool {
	fmt.Fprintf(a.stdout, "%s\nAre you sure you want to continue? [y/N] ", warning)
	answer, _ := bufio.NewReader(a.stdin).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}
