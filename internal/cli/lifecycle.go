package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

// runtimeOptions configure the container runtime; tests put its network
// and run directory apart from a real berth's.
var runtimeOptions engine.RuntimeOptions

// checkRuntime opens the engine and says why containers cannot run here,
// nil if they can.
func (a *app) checkRuntime(ctx context.Context) error {
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	return e.CheckRuntime(ctx)
}

// errSaid is an op's answer for a failure it has reported and that is not
// to count as one.
var errSaid = errors.New("reported")

// eachContainer runs op on every named container at once, as Docker's CLI
// does, then prints the names that worked, in order, and reports the rest.
func (a *app) eachContainer(names []string, op func(name string) error) error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = op(n)
		}()
	}
	wg.Wait()
	var failed []error
	for i, n := range names {
		if errs[i] == errSaid {
			continue
		}
		if errs[i] != nil {
			failed = append(failed, errs[i])
			continue
		}
		fmt.Fprintln(a.stdout, n)
	}
	return a.errorList(failed)
}

func (a *app) startCommand() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.engine(ctx)
			if err != nil {
				return err
			}
			if attach || interactive {
				if len(args) > 1 {
					return fmt.Errorf("you cannot start and attach multiple containers at once")
				}
				c, err := e.Container(ctx, args[0])
				if err != nil {
					return err
				}
				st := &engine.Streams{Stdout: a.stdout, Stderr: a.stderr}
				if interactive && c.Config.OpenStdin {
					st.Stdin = a.stdin
					if c.Config.Tty {
						if st.DetachKeys, err = detachKeysOrDefault(detachKeys); err != nil {
							return err
						}
					}
				}
				code, err := a.attached(ctx, st, c.Config.Tty, !c.Config.Tty, func() (*engine.Session, error) {
					return e.StartContainer(ctx, c.ID, st)
				})
				if err != nil {
					return err
				}
				return exitCode(code)
			}
			var failed []string
			for _, name := range args {
				if _, err := e.StartContainer(ctx, name, nil); err != nil {
					a.printError(err)
					failed = append(failed, name)
					continue
				}
				fmt.Fprintln(a.stdout, name)
			}
			if len(failed) > 0 {
				return statusError{msg: "Error: failed to start containers: " + strings.Join(failed, ", "), code: exitFailure}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	f.BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	f.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func detachKeysOrDefault(s string) ([]byte, error) {
	if s == "" {
		return engine.DefaultDetachKeys, nil
	}
	return engine.ParseDetachKeys(s)
}

// stopTimeout is -t/--time: nil leaves it to the container.
func stopTimeout(cmd *cobra.Command, seconds int) *time.Duration {
	if !cmd.Flags().Changed("time") {
		return nil
	}
	d := time.Duration(seconds) * time.Second
	if seconds < 0 {
		d = -1 // wait for ever
	}
	return &d
}

func (a *app) stopCommand() *cobra.Command {
	return a.timedCommand("stop", "Stop one or more running containers", (*engine.Engine).StopContainer)
}

func (a *app) restartCommand() *cobra.Command {
	return a.timedCommand("restart", "Restart one or more containers", (*engine.Engine).RestartContainer)
}

// timedCommand is stop or restart: op on each container, with -t seconds
// of grace before the kill.
func (a *app) timedCommand(verb, short string, op func(*engine.Engine, context.Context, string, *time.Duration) error) *cobra.Command {
	var seconds int
	cmd := &cobra.Command{
		Use:   verb + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			timeout := stopTimeout(cmd, seconds)
			return a.eachContainer(args, func(name string) error { return op(e, cmd.Context(), name, timeout) })
		},
	}
	cmd.Flags().IntVarP(&seconds, "time", "t", 10, "Seconds to wait before killing the container")
	return cmd
}

func (a *app) killCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := engine.ParseSignal(signal)
			if err != nil {
				return err
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			return a.eachContainer(args, func(name string) error {
				err := e.KillContainer(cmd.Context(), name, sig)
				if errdefs.IsConflict(err) {
					return errdefs.Newf(errdefs.ErrConflict, "Cannot kill container: %s: %w", name, err)
				}
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func (a *app) rmCommand() *cobra.Command {
	var o engine.RemoveOptions
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			var mu sync.Mutex
			return a.eachContainer(args, func(name string) error {
				_, err := e.RemoveContainer(cmd.Context(), name, o)
				if o.Force && errdefs.IsNotFound(err) {
					// As Docker: said, but not a failure.
					mu.Lock()
					a.printError(err)
					mu.Unlock()
					return errSaid
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	return cmd
}

func (a *app) waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				code, err := e.WaitContainer(cmd.Context(), name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(a.stdout, code)
			}
			return a.errorList(errs)
		},
	}
}

func (a *app) renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			return e.RenameContainer(cmd.Context(), args[0], args[1])
		},
	}
}
