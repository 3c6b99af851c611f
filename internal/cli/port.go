package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

func (a *app) portCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			c, err := e.Container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ports := append([]engine.PortMapping(nil), c.NetworkSettings.Ports...)
			sort.SliceStable(ports, func(i, j int) bool {
				if ports[i].ContainerPort != ports[j].ContainerPort {
					return ports[i].ContainerPort < ports[j].ContainerPort
				}
				return ports[i].Proto < ports[j].Proto
			})
			if len(args) == 1 {
				for _, p := range ports {
					fmt.Fprintf(a.stdout, "%s -> %s\n", p.Port(), p.Host())
				}
				return nil
			}
			want := args[1]
			if !strings.Contains(want, "/") {
				want += "/tcp"
			}
			found := false
			for _, p := range ports {
				if p.Port() == want {
					fmt.Fprintln(a.stdout, p.Host())
					found = true
				}
			}
			if !found {
				return errdefs.Newf(errdefs.ErrNotFound, "No public port '%s' published for %s", args[1], args[0])
			}
			return nil
		},
	}
}
