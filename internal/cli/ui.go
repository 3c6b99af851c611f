package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/ui"
)

// uiCommand is `berth ui`: the dashboard for the local store, on loopback,
// behind a token it prints in its address.
func (a *app) uiCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "ui [OPTIONS]",
		Short: "Serve the dashboard: images, search, pull, run, containers, in a browser",
		Long: `Serve the dashboard for the local store in a browser: images, search and
pull from the hub, image details, run, containers with their logs and a
terminal. It can run containers, so it listens on loopback only and every
request needs the token printed in its address (open that address once; a
cookie keeps it).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runUI(cmd.Context(), addr)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "Loopback address to listen on (port 0 picks a free one)")
	return cmd
}

func (a *app) runUI(ctx context.Context, addr string) error {
	if !ui.Loopback(addr) {
		return statusError{msg: fmt.Sprintf("invalid argument %q for \"--addr\" flag: the dashboard can run containers as root, so it listens on loopback only (127.0.0.1, ::1, localhost)", addr), code: exitBadUsage}
	}
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	reg, err := a.registry()
	if err != nil {
		return err
	}
	s, err := ui.New(e, ui.Options{Registry: reg, Version: versionString()})
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(a.stdout, "berth dashboard for %s (hub %s)\nOpen in a browser:\n\n    http://%s/?token=%s\n\n", a.storeRoot, e.DefaultHub(), ln.Addr(), s.Token())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Requests in flight get a moment; log streams and terminals would
	// stay open for ever, so then they are cut.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
		return srv.Close()
	} else if err != nil {
		return err
	}
	return nil
}
