package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

// app is what every command shares: the streams, the global flags, and the
// things opened lazily for the commands that need them.
type app struct {
	streams
	storeRoot string
	hub       string
	logLevel  string
	// command is the name of the command run, for its exit code.
	command string
	closers []func() error
	eng     *engine.Engine
	// pullImage pulls an image `run` and `create` do not find locally; a
	// field so tests can replace it.
	pullImage func(ctx context.Context, ref string) error
}

func newApp(in io.Reader, out, errw io.Writer) *app {
	a := &app{streams: streams{stdin: in, stdout: out, stderr: errw}}
	a.pullImage = a.pullForRun
	return a
}

// commands lists every top-level command; each lives in its own file.
func (a *app) commands() []*cobra.Command {
	return []*cobra.Command{
		a.versionCommand(),
		a.imageCommand(),
		a.systemCommand(),
		a.imagesCommand("images"),
		a.rmiCommand("rmi"),
		a.tagCommand(),
		a.saveCommand(),
		a.loadCommand(),
		a.importCommand(),
		a.buildCommand(),
		a.builderCommand(),
		a.commitCommand(),
		a.diffCommand(),
		a.cpCommand(),
		a.historyCommand(),
		a.inspectCommand(),
		a.hubCommand(),
		a.vulnCommand(),
		a.runCommand(),
		a.createCommand(),
		a.startCommand(),
		a.stopCommand(),
		a.killCommand(),
		a.restartCommand(),
		a.rmCommand(),
		a.psCommand("ps"),
		a.logsCommand(),
		a.execCommand(),
		a.attachCommand(),
		a.portCommand(),
		a.waitCommand(),
		a.renameCommand(),
		a.containerCommand(),
		a.volumeCommand(),
		a.pullCommand(),
		a.pushCommand(),
		a.searchCommand(),
		a.loginCommand(),
		a.logoutCommand(),
		a.uiCommand(),
	}
}

func (a *app) globalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&a.storeRoot, "root", "", "Local store directory (default $BERTH_ROOT, /var/lib/berth as root)")
	f.StringVar(&a.hub, "hub", "", "Default hub for short image names (default $BERTH_HUB or "+image.DefaultHub+")")
	f.StringVar(&a.logLevel, "log-level", "warn", `Set the logging level ("debug"|"info"|"warn"|"error")`)
}

// configure settles the defaults that come from the environment.
func (a *app) configure(*cobra.Command) error {
	if a.storeRoot == "" {
		a.storeRoot = defaultStoreRoot()
	}
	if a.hub == "" {
		a.hub = os.Getenv("BERTH_HUB")
	}
	if a.hub == "" {
		a.hub = image.DefaultHub
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return flagValueError("log-level", a.logLevel, err)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})))
	return nil
}

// defaultStoreRoot is $BERTH_ROOT, else /var/lib/berth for root, else the
// user's data directory.
func defaultStoreRoot() string {
	if r := os.Getenv("BERTH_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/berth"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "berth")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "berth")
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
}

// flagValueError reports a bad flag value with Docker's exit code 125.
func flagValueError(flag, value string, err error) error {
	return statusError{msg: "invalid argument \"" + value + "\" for \"--" + flag + "\" flag: " + err.Error(), code: exitBadUsage}
}
