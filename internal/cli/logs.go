package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func (a *app) logsCommand() *cobra.Command {
	var o engine.LogsOptions
	var tail, since, until string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Tail = -1
			if n, err := strconv.Atoi(tail); err == nil && n >= 0 {
				o.Tail = n
			}
			var err error
			if since != "" {
				if o.Since, err = engine.ParseTime(since); err != nil {
					return err
				}
			}
			if until != "" {
				if o.Until, err = engine.ParseTime(until); err != nil {
					return err
				}
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			return e.ContainerLogs(cmd.Context(), args[0], o, a.stdout, a.stderr)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	f.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	f.StringVar(&since, "since", "", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	f.StringVar(&until, "until", "", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	return cmd
}
