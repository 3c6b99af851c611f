package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/term"
)

func (a *app) runCommand() *cobra.Command {
	var o containerOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Run a command in a new container",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.entrypointSet = cmd.Flags().Changed("entrypoint")
			return a.runContainer(cmd, &o, args)
		},
	}
	f := cmd.Flags()
	addContainerFlags(f, &o)
	f.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func (a *app) createCommand() *cobra.Command {
	var o containerOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.entrypointSet = cmd.Flags().Changed("entrypoint")
			o.detach = true // nothing is attached until start -a
			co, err := o.createOptions(args[0], args[1:])
			if err != nil {
				return containerError(cmd, err, true)
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			c, err := a.createContainer(cmd.Context(), e, co)
			if err != nil {
				return containerError(cmd, err, true)
			}
			fmt.Fprintln(a.stdout, c.ID)
			return nil
		},
	}
	addContainerFlags(cmd.Flags(), &o)
	return cmd
}

// createContainer makes the container, pulling its image first when it is
// not in the store, as `docker run` and `docker create` do.
func (a *app) createContainer(ctx context.Context, e *engine.Engine, co engine.CreateOptions) (*engine.Container, error) {
	if _, err := e.Resolve(ctx, co.Image); errdefs.IsNotFound(err) {
		if err := a.pullMissing(ctx, e, co.Image); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return e.CreateContainer(ctx, co)
}

// pullMissing says the image is not here and pulls it through a.pullImage.
func (a *app) pullMissing(ctx context.Context, e *engine.Engine, name string) error {
	ref, err := e.ParseReference(name)
	if err != nil || strings.HasPrefix(name, "sha256:") {
		return engine.NoSuchImage(name)
	}
	if ref.Digest == "" {
		ref = ref.WithDefaultTag()
	}
	familiar := ref.FamiliarString(e.DefaultHub())
	fmt.Fprintf(a.stderr, "Unable to find image '%s' locally\n", familiar)
	if a.pullImage == nil {
		return engine.NoSuchImage(familiar)
	}
	return a.pullImage(ctx, familiar)
}

func (a *app) runContainer(cmd *cobra.Command, o *containerOptions, args []string) error {
	ctx := cmd.Context()
	if o.tty && o.interactive && !o.detach && !isTerminal(a.stdin) {
		return statusError{msg: "the input device is not a TTY", code: exitFailure}
	}
	co, err := o.createOptions(args[0], args[1:])
	if err != nil {
		return containerError(cmd, err, true)
	}
	keys := engine.DefaultDetachKeys
	if o.detachKeys != "" {
		if keys, err = engine.ParseDetachKeys(o.detachKeys); err != nil {
			return containerError(cmd, err, true)
		}
	}
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	c, err := a.createContainer(ctx, e, co)
	if err != nil {
		return containerError(cmd, err, true)
	}
	if o.detach {
		if _, err := e.StartContainer(ctx, c.ID, nil); err != nil {
			return containerError(cmd, err, false)
		}
		fmt.Fprintln(a.stdout, c.ID)
		return nil
	}

	st := &engine.Streams{Stdout: a.stdout, Stderr: a.stderr}
	if o.interactive {
		st.Stdin = a.stdin
		if o.tty {
			st.DetachKeys = keys
		}
	}
	code, err := a.attached(ctx, st, o.tty, o.sigProxy && !o.tty, func() (*engine.Session, error) {
		return e.StartContainer(ctx, c.ID, st)
	})
	if err != nil {
		var se statusError
		if errors.As(err, &se) || errors.Is(err, context.Canceled) {
			return err
		}
		return containerError(cmd, err, false)
	}
	return exitCode(code)
}

// attached opens a session (start attached, attach, exec), readies the
// terminal with tty, forwards signals with proxy, and waits for the exit
// code. While signals are forwarded the wait does not end on SIGINT or
// SIGTERM: the process gets them and its exit ends the wait.
func (a *app) attached(ctx context.Context, st *engine.Streams, tty, proxy bool, open func() (*engine.Session, error)) (int, error) {
	// Signals are caught before the process starts, so that one sent as
	// soon as its first output shows is passed on too.
	var signals *term.SignalProxy
	if proxy {
		signals = term.CatchSignals()
		defer signals.Stop()
	}
	sess, err := open()
	if err != nil {
		return 0, err
	}
	defer sess.Close()
	if tty {
		out, outOK := a.stdout.(*os.File)
		in, inOK := st.Stdin.(*os.File)
		switch {
		case outOK && inOK:
			restore, err := term.Attach(sess, in, out)
			if err != nil {
				return 0, err
			}
			defer restore()
		case outOK:
			// No input: the terminal stays as it is; the size is told once.
			if ws, err := unix.IoctlGetWinsize(int(out.Fd()), unix.TIOCGWINSZ); err == nil {
				_ = sess.Resize(ws.Row, ws.Col)
			}
		}
	}
	waitCtx := ctx
	if proxy {
		signals.Forward(sess)
		waitCtx = context.WithoutCancel(ctx)
	}
	code, err := sess.Wait(waitCtx)
	if errors.Is(err, engine.ErrDetached) {
		return 0, nil
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0, err
		}
		return 0, statusError{msg: "berth: error waiting for container: " + err.Error(), code: exitBadUsage}
	}
	return code, nil
}

// exitCode ends a command with the container's (or process's) exit code.
func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return exitStatus(code)
}
