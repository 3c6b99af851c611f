package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

func (a *app) volumeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	cmd.AddCommand(a.volumeCreateCommand(), a.volumeLsCommand(), a.volumeInspectCommand(), a.volumeRmCommand(), a.volumePruneCommand())
	return cmd
}

func (a *app) volumeCreateCommand() *cobra.Command {
	var name, driver string
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  requiresRangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return statusError{msg: "conflicting options: either specify --name or provide positional arg, not both", code: exitBadUsage}
				}
				name = args[0]
			}
			if driver != "local" {
				return errdefs.Newf(errdefs.ErrNotFound, "create %s: error looking up volume plugin %s: plugin %q not found", name, driver, driver)
			}
			if len(opts) > 0 {
				return errdefs.Newf(errdefs.ErrUnsupported, "create %s: volume options are not supported by berth's local driver", name)
			}
			lm := map[string]string{}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				lm[k] = v
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			v, err := e.CreateVolume(cmd.Context(), name, lm)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, v.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	f.StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	f.StringVar(&name, "name", "", "Specify volume name")
	_ = f.MarkHidden("name")
	return cmd
}

// volumeRow is one row of `volume ls`.
type volumeRow struct {
	v    *engine.Volume
	used int
}

func (r volumeRow) Driver() string     { return r.v.Driver }
func (r volumeRow) Name() string       { return r.v.Name }
func (r volumeRow) Scope() string      { return r.v.Scope }
func (r volumeRow) Mountpoint() string { return r.v.Mountpoint }
func (r volumeRow) Links() string      { return fmt.Sprint(r.used) }
func (r volumeRow) Size() string       { return "N/A" }
func (r volumeRow) Labels() string {
	var out []string
	for _, k := range sortedKeys(r.v.Labels) {
		out = append(out, k+"="+r.v.Labels[k])
	}
	return strings.Join(out, ",")
}
func (r volumeRow) Label(name string) string { return r.v.Labels[name] }

func (a *app) volumeLsCommand() *cobra.Command {
	var quiet bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := a.engine(ctx)
			if err != nil {
				return err
			}
			vols, err := e.ListVolumes(ctx, filters)
			if err != nil {
				return err
			}
			if quiet {
				format = "{{.Name}}"
			}
			f, err := newFormatter(a.stdout, format, "{{.Driver}}\t{{.Name}}", map[string]string{
				"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
				"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE",
			})
			if err != nil {
				return err
			}
			for _, v := range vols {
				r := volumeRow{v: v.Volume, used: v.Containers}
				js := map[string]string{"Driver": r.Driver(), "Labels": r.Labels(), "Links": r.Links(), "Mountpoint": r.Mountpoint(),
					"Name": r.Name(), "Scope": r.Scope(), "Size": r.Size()}
				if err := f.item(r, js); err != nil {
					return err
				}
			}
			return f.flush()
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	f.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. 'dangling=true')")
	f.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func (a *app) volumeInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspectAll(cmd.Context(), args, format, a.inspectVolume)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template ('json' or a Go template)")
	return cmd
}

func (a *app) volumeRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if err := e.RemoveVolume(cmd.Context(), name, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(a.stdout, name)
			}
			return a.errorList(errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

func (a *app) volumePruneCommand() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if all {
				warning = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !force && !a.confirm(warning) {
				return nil
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			removed, space, err := e.PruneVolumes(cmd.Context(), all)
			a.printPruned("Deleted Volumes:", removed, space)
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}
