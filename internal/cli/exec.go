package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func (a *app) execCommand() *cobra.Command {
	var o engine.ExecOptions
	var interactive bool
	var env, envFiles []string
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  requiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if o.Tty && interactive && !o.Detach && !isTerminal(a.stdin) {
				return statusError{msg: "the input device is not a TTY", code: exitFailure}
			}
			keys, err := detachKeysOrDefault(detachKeys)
			if err != nil {
				return err
			}
			if o.Env, err = engine.ParseEnv(env, envFiles, os.LookupEnv); err != nil {
				return err
			}
			o.Cmd = args[1:]
			e, err := a.engine(ctx)
			if err != nil {
				return err
			}
			st := &engine.Streams{Stdout: a.stdout, Stderr: a.stderr}
			if interactive {
				st.Stdin = a.stdin
				if o.Tty {
					st.DetachKeys = keys
				}
			}
			if o.Detach {
				_, err := e.Exec(ctx, args[0], o, engine.Streams{})
				return execError(err)
			}
			code, err := a.attached(ctx, st, o.Tty, false, func() (*engine.Session, error) {
				s, err := e.Exec(ctx, args[0], o, *st)
				return s, execError(err)
			})
			if err != nil {
				return err
			}
			return exitCode(code)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.Detach, "detach", "d", false, "Detached mode: run command in the background")
	f.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	f.StringArrayVarP(&env, "env", "e", nil, "Set environment variables")
	f.StringArrayVar(&envFiles, "env-file", nil, "Read in a file of environment variables")
	f.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.Tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.StringVarP(&o.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVarP(&o.WorkingDir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

func (a *app) attachCommand() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.engine(ctx)
			if err != nil {
				return err
			}
			c, err := e.Container(ctx, args[0])
			if err != nil {
				return err
			}
			st := &engine.Streams{Stdout: a.stdout, Stderr: a.stderr}
			if !noStdin && c.Config.OpenStdin {
				st.Stdin = a.stdin
				if c.Config.Tty {
					if st.DetachKeys, err = detachKeysOrDefault(detachKeys); err != nil {
						return err
					}
				}
			}
			code, err := a.attached(ctx, st, c.Config.Tty, sigProxy && !c.Config.Tty, func() (*engine.Session, error) {
				return e.AttachContainer(ctx, c.ID, *st)
			})
			if err != nil {
				return err
			}
			return exitCode(code)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	f.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	f.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}
