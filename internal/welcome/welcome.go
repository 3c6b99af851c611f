// Package welcome is the "welcome to berth" web page that berth's own
// binary serves when it runs as `welcome` (the seeded hub image installs it
// as /usr/local/bin/welcome). It listens on port 80 unless told otherwise.
package welcome

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

// DefaultAddr is where the page is served: all interfaces, port 80.
const DefaultAddr = ":80"

var page = template.Must(template.New("welcome").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Welcome to berth</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; color: #1d2733; background: #f6f8fa; }
h1 { font-size: 2.4rem; margin-bottom: .2rem; }
.card { background: white; border-radius: 12px; padding: 1.5rem 2rem; box-shadow: 0 2px 8px rgba(0,0,0,.08); }
code { background: #eef1f4; padding: .1rem .35rem; border-radius: 4px; }
dt { font-weight: 600; margin-top: .6rem; }
</style>
</head>
<body>
<div class="card">
<h1>Welcome to berth</h1>
<p>If you can read this, your container is running and its port is published.</p>
<dl>
<dt>Container host name</dt><dd><code>{{.Hostname}}</code></dd>
<dt>Served at</dt><dd><code>{{.Time}}</code></dd>
<dt>You came from</dt><dd><code>{{.Remote}}</code></dd>
<dt>Platform</dt><dd><code>{{.Platform}}</code></dd>
</dl>
<p>Next: <code>berth exec -it CONTAINER sh</code> to look inside, <code>berth logs CONTAINER</code> to see this visit.</p>
</div>
</body>
</html>
`))

// Handler serves the page at / and a plain health answer at /healthz.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		host, _ := os.Hostname()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]string{
			"Hostname": host, "Time": time.Now().UTC().Format(time.RFC1123),
			"Remote": r.RemoteAddr, "Platform": runtime.GOOS + "/" + runtime.GOARCH,
		})
		fmt.Fprintf(os.Stdout, "%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339), r.RemoteAddr, r.Method, r.URL.Path)
	})
	return mux
}

// Main runs the welcome server: `welcome [--addr :80]`; $WELCOME_ADDR or
// $PORT also set where it listens. It stops on SIGTERM or SIGINT.
func Main(args []string) int {
	fs := flag.NewFlagSet("welcome", flag.ContinueOnError)
	addr := DefaultAddr
	if v := os.Getenv("WELCOME_ADDR"); v != "" {
		addr = v
	} else if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	fs.StringVar(&addr, "addr", addr, "address to listen on")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := Serve(ctx, addr, func(a string) { fmt.Fprintf(os.Stdout, "welcome: serving on %s\n", a) }); err != nil {
		fmt.Fprintf(os.Stderr, "welcome: %v\n", err)
		return 1
	}
	return 0
}

// Serve listens on addr until ctx is done; ready gets the bound address.
func Serve(ctx context.Context, addr string, ready func(string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
