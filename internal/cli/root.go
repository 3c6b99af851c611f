// Package cli is berth's command line: one file per command, Docker's verbs,
// flags, columns, wording and exit codes. It holds no business logic: commands
// parse flags, call the engine (or the hub, or the client), and print.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// Run runs one command line (without the program name) on the given
// streams and returns its exit code. Tests call it in-process.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := newApp(stdin, stdout, stderr)
	defer a.close()
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	return a.report(err)
}

// report prints err the way Docker does and returns the exit code
// exitCodeOf picks for the command that failed.
func (a *app) report(err error) int {
	var se statusError
	var said saidError
	switch {
	case errors.As(err, &se):
		if se.msg != "" {
			fmt.Fprintln(a.stderr, se.msg)
		}
	case errors.Is(err, context.Canceled):
	case errors.As(err, &said):
		fmt.Fprintln(a.stderr, said.msg)
	default:
		a.printError(err)
	}
	return exitCodeOf(a.command, err)
}

// statusError carries an exit code and a message printed as is.
type statusError struct {
	msg  string
	code int
}

func (e statusError) Error() string { return e.msg }

// exitStatus ends a command with code and no further message, as `docker run`
// does with the container's exit code.
func exitStatus(code int) error { return statusError{code: code} }

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth [OPTIONS] COMMAND",
		Short:         "A daemonless container image tool and hub",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Errors before this (flags, arguments) carry their code.
			a.command = cmd.Name()
			return a.configure(cmd)
		},
	}
	root.SetVersionTemplate("berth version {{.Version}}\n")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(flagError)
	a.globalFlags(root)
	for _, c := range a.commands() {
		root.AddCommand(c)
	}
	// Docker answers every flag error, in every subcommand, with 125.
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.SetFlagErrorFunc(flagError)
		if c.Args == nil && c.HasSubCommands() {
			c.Args = noArgsGroup
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// flagError words a flag problem as Docker does and exits 125.
func flagError(cmd *cobra.Command, err error) error {
	return statusError{
		msg:  fmt.Sprintf("%s\nSee '%s --help'.", err, cmd.CommandPath()),
		code: exitBadUsage,
	}
}

// noArgsGroup refuses a command group given an unknown subcommand.
func noArgsGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return statusError{
		msg:  fmt.Sprintf("%s: '%s' is not a %s command.\nSee '%s --help'", cmd.Root().Name(), args[0], cmd.CommandPath(), cmd.CommandPath()),
		code: exitBadUsage,
	}
}

// Argument checks worded as Docker's cli.RequiresMinArgs and friends.
func requiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at least %d %s", n, plural(n, "argument", "arguments")))
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires exactly %d %s", n, plural(n, "argument", "arguments")))
	}
}

func requiresRangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at least %d and at most %d %s", lo, hi, plural(hi, "argument", "arguments")))
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return argsError(cmd, "accepts no arguments")
}

func argsError(cmd *cobra.Command, what string) error {
	return statusError{
		msg: fmt.Sprintf("%q %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
			cmd.CommandPath(), what, cmd.CommandPath(), cmd.UseLine(), cmd.Short),
		code: exitFailure,
	}
}

// plural is one or many, as n asks.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// streams are the standard streams, replaceable in tests.
type streams struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}
