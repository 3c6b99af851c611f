package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

func (a *app) importCommand() *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := engine.ImportOptions{Changes: changes, Message: message, Source: "-"}
			if len(args) == 2 {
				opts.Ref = args[1]
			}
			if platform != "" {
				p, err := image.ParsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platform = p
			}
			var in io.Reader
			switch src := args[0]; {
			case src == "-":
				in = a.stdin
			case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
				req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, src, nil)
				if err != nil {
					return err
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("importing %s: %s", src, resp.Status)
				}
				in, opts.Source = resp.Body, src
			default:
				f, err := os.Open(src)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			id, err := e.Import(cmd.Context(), in, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, id)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}
