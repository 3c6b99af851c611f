package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/hub"
	"github.com/berth-dev/berth/hub/meta"
)

// hubRootFlag adds --root to an operator command.
func hubRootFlag(c *cobra.Command, root *string) {
	c.Flags().StringVar(root, "root", "", "Hub data directory (default $BERTH_HUB_ROOT, /var/lib/berth/hub as root)")
}

// openHubMeta opens the metadata of the hub under root; a serving hub
// picks the changes up within a second.
func (a *app) openHubMeta(ctx context.Context, root string) (meta.Store, error) {
	if root == "" {
		root = hub.DefaultRoot()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	m, err := meta.OpenSQLite(ctx, filepath.Join(root, "hub.db"))
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, m.Close)
	return m, nil
}

// readPassword reads one line from stdin, as `docker login --password-stdin`.
func (a *app) readPassword() (string, error) {
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

func (a *app) hubUserCommand() *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage hub accounts"}
	var root string
	var admin bool
	add := &cobra.Command{
		Use:   "add [OPTIONS] NAME",
		Short: "Create an account; the password is read from standard input",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := a.readPassword()
			if err != nil {
				return err
			}
			m, err := a.openHubMeta(cmd.Context(), root)
			if err != nil {
				return err
			}
			if err := hub.AddUser(cmd.Context(), m, args[0], pw, admin); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, args[0])
			return nil
		},
	}
	hubRootFlag(add, &root)
	add.Flags().BoolVar(&admin, "admin", false, "Make the account an operator: owns library/ and may do anything")
	passwd := &cobra.Command{
		Use:   "passwd [OPTIONS] NAME",
		Short: "Change an account's password (read from standard input); ends its logins",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := a.readPassword()
			if err != nil {
				return err
			}
			m, err := a.openHubMeta(cmd.Context(), root)
			if err != nil {
				return err
			}
			return hub.SetUserPassword(cmd.Context(), m, args[0], pw)
		},
	}
	hubRootFlag(passwd, &root)
	rm := &cobra.Command{
		Use:   "rm [OPTIONS] NAME",
		Short: "Remove an account",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.openHubMeta(cmd.Context(), root)
			if err != nil {
				return err
			}
			if err := m.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, args[0])
			return nil
		},
	}
	hubRootFlag(rm, &root)
	ls := &cobra.Command{
		Use:   "ls [OPTIONS]",
		Short: "List accounts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := a.openHubMeta(cmd.Context(), root)
			if err != nil {
				return err
			}
			users, err := m.Users(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tADMIN\tCREATED")
			for _, u := range users {
				orgs, _ := m.UserOrgs(cmd.Context(), u.Name)
				_ = orgs
				fmt.Fprintf(tw, "%s\t%v\t%s\n", u.Name, u.Admin, u.Created.UTC().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	hubRootFlag(ls, &root)
	c.AddCommand(add, passwd, rm, ls)
	return c
}

func (a *app) hubOrgCommand() *cobra.Command {
	c := &cobra.Command{Use: "org", Short: "Manage hub organisations"}
	var root string
	simple := func(use, short string, n int, fn func(ctx context.Context, m meta.Store, args []string) error) *cobra.Command {
		sc := &cobra.Command{
			Use: use, Short: short, Args: exactArgs(n),
			RunE: func(cmd *cobra.Command, args []string) error {
				m, err := a.openHubMeta(cmd.Context(), root)
				if err != nil {
					return err
				}
				return fn(cmd.Context(), m, args)
			},
		}
		hubRootFlag(sc, &root)
		return sc
	}
	add := simple("add [OPTIONS] ORG", "Create an organisation", 1, func(ctx context.Context, m meta.Store, args []string) error {
		return hub.AddOrg(ctx, m, args[0])
	})
	rm := simple("rm [OPTIONS] ORG", "Remove an organisation", 1, func(ctx context.Context, m meta.Store, args []string) error {
		return m.DeleteOrg(ctx, args[0])
	})
	ls := simple("ls [OPTIONS]", "List organisations and their members", 0, func(ctx context.Context, m meta.Store, _ []string) error {
		orgs, err := m.Orgs(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "NAME\tMEMBERS")
		for _, o := range orgs {
			members, err := m.Members(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\n", o, strings.Join(members, ","))
		}
		return tw.Flush()
	})
	member := &cobra.Command{Use: "member", Short: "Manage an organisation's members"}
	member.AddCommand(
		simple("add [OPTIONS] ORG USER", "Add a user to an organisation", 2, func(ctx context.Context, m meta.Store, args []string) error {
			return m.AddMember(ctx, args[0], args[1])
		}),
		simple("rm [OPTIONS] ORG USER", "Remove a user from an organisation", 2, func(ctx context.Context, m meta.Store, args []string) error {
			return m.RemoveMember(ctx, args[0], args[1])
		}),
	)
	c.AddCommand(add, rm, ls, member)
	return c
}

func (a *app) hubRepoCommand() *cobra.Command {
	c := &cobra.Command{Use: "repo", Short: "Manage hub repositories"}
	var root, badge, desc, fullFile string
	var private, public bool
	var stars int64
	set := &cobra.Command{
		Use:   "set [OPTIONS] NAME",
		Short: "Set a repository's badge, descriptions, visibility or stars",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u meta.RepoUpdate
			f := cmd.Flags()
			if f.Changed("badge") {
				b := badge
				if b == "none" {
					b = ""
				}
				u.Badge = &b
			}
			if f.Changed("description") {
				u.Description = &desc
			}
			if f.Changed("full-description-file") {
				var b []byte
				var err error
				if fullFile == "-" {
					b, err = io.ReadAll(a.stdin)
				} else {
					b, err = os.ReadFile(fullFile)
				}
				if err != nil {
					return err
				}
				s := string(b)
				u.FullDescription = &s
			}
			if private && public {
				return statusError{msg: "--private and --public cannot be used together", code: exitBadUsage}
			}
			if private || public {
				u.Private = &private
			}
			if f.Changed("stars") {
				u.Stars = &stars
			}
			m, err := a.openHubMeta(cmd.Context(), root)
			if err != nil {
				return err
			}
			r, err := hub.UpdateRepo(cmd.Context(), m, args[0], u)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, hub.DisplayName(r.Name))
			return nil
		},
	}
	hubRootFlag(set, &root)
	sf := set.Flags()
	sf.StringVar(&badge, "badge", "", "Badge: official, verified_publisher, open_source or none")
	sf.StringVar(&desc, "description", "", "Short description shown in search")
	sf.StringVar(&fullFile, "full-description-file", "", "Markdown file with the full description ('-' for standard input)")
	sf.BoolVar(&private, "private", false, "Only the owners may pull")
	sf.BoolVar(&public, "public", false, "Anyone may pull")
	sf.Int64Var(&stars, "stars", 0, "Set the star count")
	ls := &cobra.Command{
		Use:   "ls [OPTIONS]",
		Short: "List repositories",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := a.openHubMeta(cmd.Context(), root)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tBADGE\tSTARS\tPULLS\tPRIVATE\tDESCRIPTION")
			err = m.WalkRepos(cmd.Context(), func(r meta.Repo) error {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%v\t%s\n", hub.DisplayName(r.Name), r.Badge, r.Stars, r.Pulls, r.Private, r.Description)
				return nil
			})
			if err != nil {
				return err
			}
			return tw.Flush()
		},
	}
	hubRootFlag(ls, &root)
	c.AddCommand(set, ls)
	return c
}

// loadHubConfig sets the flags a config file names and the command line
// did not: one "name=value" per line, '#' starts a comment.
func loadHubConfig(cmd *cobra.Command, path string) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	flags := cmd.Flags()
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			name, value, ok = strings.Cut(line, ":")
		}
		name, value = strings.TrimSpace(strings.TrimPrefix(name, "--")), strings.TrimSpace(value)
		var fl *pflag.Flag
		if ok {
			fl = flags.Lookup(name)
		}
		if fl == nil || name == "config" {
			return fmt.Errorf("%s:%d: %q is not a hub serve setting", path, i+1, line)
		}
		if fl.Changed {
			continue
		}
		if err := flags.Set(name, strings.Trim(value, `"`)); err != nil {
			return fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
	}
	return nil
}
