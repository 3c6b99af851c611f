package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/hub"
)

// hubCommand is `berth hub`: the hub server and its operator commands.
func (a *app) hubCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "hub",
		Short: "Run and manage an image hub",
	}
	c.AddCommand(a.hubServeCommand(), a.hubUserCommand(), a.hubOrgCommand(), a.hubRepoCommand())
	return c
}

type hubServeOptions struct {
	addr, root, config, cert, key, publicURL string
	open, noSeed                             bool
	gcInterval, gcGrace                      time.Duration
	seedExe, seedBusybox                     string
	vulnDB                                   string
	analysisWorkers                          int
	signInFailures, signInFailuresPerIP      int
	signInWindow, signInBackoff              time.Duration
	maxConnsPerClient                        int
	bodyIdleTimeout                          time.Duration
	metricsAddr, metricsTokenFile            string
}

func (a *app) hubServeCommand() *cobra.Command {
	var o hubServeOptions
	c := &cobra.Command{
		Use:   "serve [OPTIONS]",
		Short: "Serve an image hub: registry, search, accounts",
		Long: `Serve an image hub: the OCI distribution API, Docker search, token
authentication, accounts, stars and badges, with blobs on the filesystem and
metadata in SQLite under --root. A new hub holds the welcome image.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadHubConfig(cmd, o.config); err != nil {
				return err
			}
			return a.runHub(cmd.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:5000", "Address to listen on")
	f.StringVar(&o.root, "root", "", "Hub data directory (default $BERTH_HUB_ROOT, /var/lib/berth/hub as root, else ~/.local/share/berth/hub)")
	f.StringVar(&o.config, "config", "", "Config file: one flag per line, as name=value")
	f.StringVar(&o.cert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&o.key, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&o.publicURL, "public-url", "", "URL clients reach the hub at, for token realms (default from --addr)")
	f.BoolVar(&o.open, "open", false, "Allow anyone to push and delete, without logging in (local tinkering only)")
	f.BoolVar(&o.noSeed, "no-seed", false, "Do not put the welcome image in a new hub")
	f.DurationVar(&o.gcInterval, "gc-interval", time.Hour, "How often to collect unreachable content (0 to turn off)")
	f.DurationVar(&o.gcGrace, "gc-grace", time.Hour, "How long unreferenced content is kept")
	f.StringVar(&o.seedExe, "seed-executable", "", "Executable put in the welcome image as /usr/local/bin/welcome (default this berth)")
	f.StringVar(&o.seedBusybox, "seed-busybox", "/bin/busybox", "Static busybox for the welcome image's shell")
	f.StringVar(&o.vulnDB, "vuln-db", "", "OSV database pushed images are matched against (default <root>/vuln/osv.db; fill it with berth vuln db --db)")
	f.IntVar(&o.analysisWorkers, "analysis-workers", 1, "Images analysed at once in the background (0 to turn analysis off)")
	f.IntVar(&o.signInFailures, "signin-failures", 5, "Failed password checks for one account from one client address before that address is refused the account for --signin-backoff; the account is slowed down for addresses that failed, never for others (0 to turn off)")
	f.IntVar(&o.signInFailuresPerIP, "signin-failures-per-ip", 20, "Failed password checks from one client address before it is refused (0 to turn off: behind a proxy every client has its address)")
	f.DurationVar(&o.signInWindow, "signin-window", 15*time.Minute, "How long a failed password check counts")
	f.DurationVar(&o.signInBackoff, "signin-backoff", 15*time.Minute, "How long a throttled account or address is refused")
	f.IntVar(&o.maxConnsPerClient, "max-conns-per-client", 128, "Connections one client address may hold open (0 for no cap: behind a proxy every client has its address)")
	f.DurationVar(&o.bodyIdleTimeout, "body-idle-timeout", 30*time.Second, "How long a request body other than a blob upload may take to send each 4 KiB")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "Address to serve /metrics on, apart from --addr (the public address has none by default)")
	f.StringVar(&o.metricsTokenFile, "metrics-token-file", "", "File holding a token that /metrics on --addr asks for as a bearer token")
	// --root is also a global flag for the local store; this one is the hub's.
	return c
}

func (a *app) runHub(ctx context.Context, o hubServeOptions) error {
	root := o.root
	if root == "" {
		root = hub.DefaultRoot()
	}
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(a.logLevel))
	if a.logLevel == "warn" { // the CLI's default is quiet; a server says what it does
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	cfg := hub.Config{Root: root, PublicURL: o.publicURL, Open: o.open, Logger: logger, GCGrace: o.gcGrace, GCInterval: o.gcInterval}
	if o.gcInterval == 0 {
		cfg.GCInterval = -1
	}
	cfg.VulnDB, cfg.AnalysisWorkers = o.vulnDB, o.analysisWorkers
	if o.analysisWorkers <= 0 {
		cfg.AnalysisWorkers = -1
	}
	// The hub reads 0 as "its default" and a negative limit as "off".
	cfg.SignInFailures, cfg.SignInFailuresPerIP = offIfZero(o.signInFailures), offIfZero(o.signInFailuresPerIP)
	cfg.SignInWindow, cfg.SignInBackoff = o.signInWindow, o.signInBackoff
	cfg.BodyIdleTimeout = o.bodyIdleTimeout
	if o.metricsTokenFile != "" {
		b, err := os.ReadFile(o.metricsTokenFile)
		if err != nil {
			return fmt.Errorf("reading the metrics token: %w", err)
		}
		if cfg.MetricsToken = strings.TrimSpace(string(b)); cfg.MetricsToken == "" {
			return fmt.Errorf("the metrics token file %s is empty", o.metricsTokenFile)
		}
	}
	if !o.noSeed {
		exe := o.seedExe
		if exe == "" {
			var err error
			if exe, err = os.Executable(); err != nil {
				return fmt.Errorf("finding berth's own executable for the welcome image: %w", err)
			}
		}
		cfg.Seed = &hub.SeedConfig{Executable: exe, Busybox: o.seedBusybox}
	}
	s := &hub.Server{Addr: o.addr, TLSCert: o.cert, TLSKey: o.key, Config: cfg, MaxConnsPerClient: offIfZero(o.maxConnsPerClient), MetricsAddr: o.metricsAddr,
		Ready: func(addr string) {
			fmt.Fprintf(a.stdout, "berth hub serving on %s (data in %s)\n", addr, root)
			fmt.Fprintf(a.stdout, "Its pages: http://%s/\n", addr)
			fmt.Fprintf(a.stdout, "Try, in another terminal:\n  berth search welcome\n  berth run -d -p 0:80 --name web welcome && berth port web\n  docker search %[1]s/welcome\n  docker pull %[1]s/welcome\n  curl 'http://%[1]s/api/v1/search?q=welcome'\n  berth ui    (the dashboard, in a browser)\n", addr)
			if !o.open {
				fmt.Fprintf(a.stdout, "  echo PASSWORD | berth hub user add NAME --root %s && docker login %s\n", root, addr)
			}
		}}
	return s.Run(ctx)
}

func offIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
