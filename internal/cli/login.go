package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/registry/config"
)

// registryConfig reads the client configuration: logins and insecure
// registries.
func (a *app) registryConfig() (*config.File, error) {
	return config.Load(config.DefaultPath())
}

// registry is the registry client with the stored logins.
func (a *app) registry() (*client.Client, error) {
	cfg, err := a.registryConfig()
	if err != nil {
		return nil, err
	}
	return registryClient(cfg), nil
}

func registryClient(cfg *config.File) *client.Client {
	return client.New(client.Options{Credentials: cfg, Insecure: cfg.Insecure, UserAgent: "berth/" + versionString()})
}

// progressFunc draws engine progress as Docker's CLI does: bars on a
// terminal; elsewhere only status changes, without transfer updates.
func progressFunc(view *progressView) engine.ProgressFunc {
	return func(p engine.Progress) {
		if !view.tty && (p.Total > 0 || p.Current > 0) {
			return
		}
		view.update(p)
	}
}

type loginOptions struct {
	user, password string
	passwordStdin  bool
}

func (a *app) loginCommand() *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a hub",
		Long:  "Log in to a hub.\nIf no server is specified, the default hub is used.",
		Args:  requiresRangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := a.hub
			if len(args) == 1 {
				server = args[0]
			}
			return a.runLogin(cmd, config.NormalizeHost(server), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.user, "username", "u", "", "Username")
	f.StringVarP(&o.password, "password", "p", "", "Password")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "Take the password from stdin")
	return cmd
}

func (a *app) runLogin(cmd *cobra.Command, host string, o loginOptions) error {
	ctx := cmd.Context()
	if o.password != "" {
		fmt.Fprintln(a.stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
		if o.passwordStdin {
			return errors.New("--password and --password-stdin are mutually exclusive")
		}
	}
	if o.passwordStdin {
		if o.user == "" {
			return errdefs.Newf(errdefs.ErrInvalid, "Must provide --username with --password-stdin")
		}
		b, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
		if err != nil {
			return err
		}
		o.password = strings.TrimRight(string(b), "\r\n")
	}
	cfg, err := a.registryConfig()
	if err != nil {
		return err
	}
	c := registryClient(cfg)
	if o.user == "" && o.password == "" {
		if u, p, ok := cfg.Credentials(host); ok {
			fmt.Fprintf(a.stdout, "Authenticating with existing credentials... [Username: %s]\n", u)
			if err := c.Login(ctx, host, u, p); err == nil {
				fmt.Fprintln(a.stdout, "Login Succeeded")
				return nil
			}
			fmt.Fprintln(a.stderr, "Login did not succeed, error: the stored credentials were refused")
		}
	}
	if o.user == "" || o.password == "" {
		if err := a.prompt(&o); err != nil {
			return err
		}
	}
	if o.user == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "Username is required")
	}
	if o.password == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "Password is required")
	}
	if err := c.Login(ctx, host, o.user, o.password); err != nil {
		return err
	}
	cfg.SetCredentials(host, o.user, o.password)
	if err := cfg.Save(); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "WARNING! Your password will be stored unencrypted in %s.\n", cfg.Path())
	fmt.Fprintln(a.stdout, "Login Succeeded")
	return nil
}

// prompt asks for what the flags did not give, on a terminal only.
func (a *app) prompt(o *loginOptions) error {
	in, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return errdefs.Newf(errdefs.ErrInvalid, "Cannot perform an interactive login from a non TTY device")
	}
	if o.user == "" {
		fmt.Fprint(a.stdout, "Username: ")
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return err
		}
		o.user = strings.TrimSpace(line)
	}
	if o.password == "" {
		fmt.Fprint(a.stdout, "Password: ")
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(a.stdout)
		if err != nil {
			return err
		}
		o.password = string(b)
	}
	return nil
}

func (a *app) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a hub",
		Long:  "Log out from a hub.\nIf no server is specified, the default hub is used.",
		Args:  requiresRangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := a.hub
			if len(args) == 1 {
				server = args[0]
			}
			host := config.NormalizeHost(server)
			cfg, err := a.registryConfig()
			if err != nil {
				return err
			}
			if _, _, ok := cfg.Credentials(host); !ok {
				fmt.Fprintf(a.stdout, "Not logged in to %s\n", host)
				return nil
			}
			fmt.Fprintf(a.stdout, "Removing login credentials for %s\n", host)
			cfg.RemoveCredentials(host)
			return cfg.Save()
		},
	}
}
