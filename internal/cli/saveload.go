package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func (a *app) saveCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && isTerminal(a.stdout) {
				return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			// A file is written beside its target and renamed: a failed save leaves no half file.
			return a.writeOutput(output, func(w io.Writer) error { return e.Save(cmd.Context(), w, args) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func (a *app) loadCommand() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var in io.Reader = a.stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if isTerminal(a.stdin) {
				return fmt.Errorf("requested load from stdin, but stdin is empty")
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			view := newProgressView(a.stdout)
			progress := view.update
			if quiet || !view.tty {
				progress = nil // Docker shows load progress only on a terminal
			}
			res, err := e.Load(cmd.Context(), in, progress)
			if err != nil {
				return err
			}
			for _, note := range res.Renamed {
				fmt.Fprintln(a.stdout, note)
			}
			for _, img := range res.Images {
				if len(img.Tags) == 0 {
					fmt.Fprintln(a.stdout, "Loaded image ID:", img.ID)
				}
				for _, t := range img.Tags {
					fmt.Fprintln(a.stdout, "Loaded image:", t)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}
