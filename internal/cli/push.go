package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

type pushOptions struct {
	all   bool
	quiet bool
}

func (a *app) pushCommand() *cobra.Command {
	var o pushOptions
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a hub",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.engine(ctx)
			if err != nil {
				return err
			}
			ref, err := e.ParseReference(args[0])
			if err != nil {
				return err
			}
			if o.all && (ref.Tag != "" || ref.Digest != "") {
				return fmt.Errorf("tag can't be used with --all-tags/-a")
			}
			opts := engine.PushOptions{AllTags: o.all}
			if opts.Registry, err = a.registry(); err != nil {
				return err
			}
			if !o.all && ref.Tag == "" && ref.Digest == "" {
				ref = ref.WithDefaultTag()
				if !o.quiet {
					fmt.Fprintf(a.stdout, "Using default tag: %s\n", image.DefaultTag)
				}
			}
			if !o.quiet {
				opts.Progress = progressFunc(newProgressView(a.stdout))
			}
			if _, err := e.Push(ctx, ref.String(), opts); err != nil {
				return err
			}
			if o.quiet {
				fmt.Fprintln(a.stdout, ref.String())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all-tags", "a", false, "Push all tags of an image to the repository")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}
