package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

type pullOptions struct {
	all      bool
	platform string
	quiet    bool
}

func (a *app) pullCommand() *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a hub",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPull(cmd, args[0], o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all-tags", "a", false, "Download all tagged images in the repository")
	f.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

func (a *app) runPull(cmd *cobra.Command, name string, o pullOptions) error {
	ctx := cmd.Context()
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	ref, err := e.ParseReference(name)
	if err != nil {
		return err
	}
	var opts engine.PullOptions
	if o.platform != "" {
		p, err := image.ParsePlatform(o.platform)
		if err != nil {
			return err
		}
		opts.Platform = &p
	}
	if opts.Registry, err = a.registry(); err != nil {
		return err
	}
	if !o.quiet {
		opts.Progress = progressFunc(newProgressView(a.stdout))
	}
	names := []image.Reference{ref}
	switch {
	case o.all && (ref.Tag != "" || ref.Digest != ""):
		return fmt.Errorf("tag can't be used with --all-tags/-a")
	case o.all:
		tags, err := opts.Registry.Repository(ref.Hub, ref.Path).Tags(ctx)
		if err != nil {
			return err
		}
		names = names[:0]
		for _, t := range tags {
			r := ref
			r.Tag = t
			names = append(names, r)
		}
	case ref.Tag == "" && ref.Digest == "" && !o.quiet:
		fmt.Fprintf(a.stdout, "Using default tag: %s\n", image.DefaultTag)
	}
	for _, r := range names {
		res, err := e.Pull(ctx, r.String(), opts)
		if err != nil {
			return err
		}
		if !o.all {
			fmt.Fprintln(a.stdout, res.Ref.String())
		}
	}
	if o.all {
		fmt.Fprintln(a.stdout, ref.Name())
	}
	return nil
}

// pullForRun pulls an image `run` or `create` did not find, as Docker does:
// progress on stderr, no "Using default tag", no reference line at the end.
func (a *app) pullForRun(ctx context.Context, ref string) error {
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	reg, err := a.registry()
	if err != nil {
		return err
	}
	_, err = e.Pull(ctx, ref, engine.PullOptions{Registry: reg, Progress: progressFunc(newProgressView(a.stderr))})
	return err
}
