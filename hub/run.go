package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Server is the hub's runtime around the handler: a listener, optional TLS,
// and graceful shutdown.
type Server struct {
	Addr    string // default 127.0.0.1:5000
	TLSCert string
	TLSKey  string
	Config  Config
	// Ready, if set, is called with the bound address once the hub answers.
	Ready func(addr string)
	// MaxConnsPerClient is how many connections one client address (IPv6
	// by /64) may hold open (default 128; negative for no cap). Behind a
	// reverse proxy every client has the proxy's address: turn it off
	// there, or raise it.
	MaxConnsPerClient int
	// MetricsAddr, if set, serves /metrics there, apart from the public
	// address (which serves them only with Config.MetricsToken).
	MetricsAddr string
}

// DefaultRoot is $BERTH_HUB_ROOT, else /var/lib/berth/hub for root, else
// $XDG_DATA_HOME/berth/hub (~/.local/share/berth/hub).
func DefaultRoot() string {
	if r := os.Getenv("BERTH_HUB_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/berth/hub"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "berth", "hub")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "berth", "hub")
}

// Run serves until ctx is done, then stops taking connections and waits up
// to 30 seconds for requests in flight (a long blob upload) to finish.
func (s *Server) Run(ctx context.Context) error {
	if s.Addr == "" {
		s.Addr = "127.0.0.1:5000"
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return errors.New("TLS needs both a certificate and a key")
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.Addr, err)
	}
	if s.MaxConnsPerClient == 0 {
		s.MaxConnsPerClient = 128
	}
	scheme := "http"
	if s.TLSCert != "" {
		scheme = "https"
	}
	cfg := s.Config
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = scheme + "://" + publicHost(ln.Addr().String())
	}
	h, err := New(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer h.Close()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	if s.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("loading the TLS key pair: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln = limitConns(ln, s.MaxConnsPerClient, cfg.Logger)
	if s.TLSCert != "" {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if s.MetricsAddr != "" {
		msrv, err := serveMetrics(s.MetricsAddr, h.MetricsHandler(), errc)
		if err != nil {
			srv.Close()
			return err
		}
		defer msrv.Close()
	}
	h.log.Info("hub listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "root", cfg.Root, "open", cfg.Open)
	if s.Ready != nil {
		s.Ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	h.log.Info("hub shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// serveMetrics serves the metrics alone on addr; its end is sent to errc.
func serveMetrics(addr string, metrics http.Handler, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics: %w", err)
		}
	}()
	return srv, nil
}

// publicHost turns a bound address into one clients can use: an unspecified
// host (0.0.0.0, ::) becomes 127.0.0.1.
func publicHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
