package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

func (a *app) containerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	cmd.AddCommand(
		a.attachCommand(),
		a.createCommand(),
		a.execCommand(),
		a.containerInspectCommand(),
		a.killCommand(),
		a.logsCommand(),
		a.psCommand("ls"),
		a.portCommand(),
		a.containerPruneCommand(),
		a.renameCommand(),
		a.restartCommand(),
		a.rmCommand(),
		a.runCommand(),
		a.startCommand(),
		a.stopCommand(),
		a.waitCommand(),
	)
	return cmd
}

func (a *app) containerInspectCommand() *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspectAll(cmd.Context(), args, format, a.inspectContainer)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template ('json' or a Go template)")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

func (a *app) inspectContainer(ctx context.Context, name string) (any, error) {
	e, err := a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return e.InspectContainer(ctx, name)
}

func (a *app) inspectVolume(ctx context.Context, name string) (any, error) {
	e, err := a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return e.Volume(ctx, name)
}

// inspectObject finds what the top-level inspect names: a container, then
// an image, then a volume, as Docker tries them, or only the given kind.
func (a *app) inspectObject(kind string) (func(context.Context, string) (any, error), error) {
	kinds := map[string]func(context.Context, string) (any, error){
		"container": a.inspectContainer,
		"image": func(ctx context.Context, name string) (any, error) {
			e, err := a.engine(ctx)
			if err != nil {
				return nil, err
			}
			return e.InspectImage(ctx, name)
		},
		"volume": a.inspectVolume,
	}
	if kind != "" {
		get, ok := kinds[kind]
		if !ok {
			return nil, fmt.Errorf("unknown type: %q: must be one of \"container\", \"image\", \"volume\"", kind)
		}
		return get, nil
	}
	return func(ctx context.Context, name string) (any, error) {
		// Without a container runtime (no runc) there are no containers
		// or volumes to find, only images.
		rterr := a.checkRuntime(ctx)
		for _, k := range []string{"container", "image", "volume"} {
			if k != "image" && rterr != nil {
				continue
			}
			obj, err := kinds[k](ctx, name)
			if err == nil {
				return obj, nil
			}
			if !errdefs.IsNotFound(err) {
				return nil, err
			}
		}
		return nil, errdefs.Newf(errdefs.ErrNotFound, "No such object: %s", name)
	}, nil
}

func (a *app) containerPruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keep, err := engine.ContainerPruneKeep(filters)
			if err != nil {
				return err
			}
			if !force && !a.confirm("WARNING! This will remove all stopped containers.") {
				return nil
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			ids, space, err := e.PruneContainers(cmd.Context(), keep)
			a.printPruned("Deleted Containers:", ids, space)
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}
