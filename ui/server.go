// Package ui is berth's dashboard: the desktop "Images" view in a browser,
// served by `berth ui` from the same process as the engine. It lists,
// searches, pulls, inspects, runs and removes images, and lists, follows,
// stops, starts, removes and opens a terminal in containers.
//
// The dashboard can run containers as root, so it is guarded as Jupyter
// guards a notebook: it listens on loopback only (the caller checks the
// address with Loopback), every request needs the token printed in the URL
// (then a cookie), Host must be a loopback name (no DNS rebinding), and
// every request that changes something, and every websocket, must come from
// the dashboard's own origin. Pages are plain HTML, CSS and JavaScript
// embedded in the binary; the JavaScript builds the DOM with textContent,
// never innerHTML, and the Content-Security-Policy allows only the
// dashboard's own scripts.
//
// The JSON API under /api/ is the pages' and anyone's with the token
// (Authorization: Bearer TOKEN):
//
//	GET    /api/info                        hub, version, whether xterm.js is built in
//	GET    /api/images?filter=F             one row per tag, with the containers using it
//	DELETE /api/images?ref=R                rmi R (409 with Docker's reason while in use)
//	GET    /api/image?ref=R                 config and history (layers)
//	GET    /api/image/analysis?ref=R        SSE: progress, packages, vulnerabilities
//	GET    /api/search?q=Q                  the hub's repositories
//	POST   /api/pulls {"ref":R}             starts a pull; answers {"id":ID}
//	GET    /api/pulls/ID/events             SSE: per-layer progress, then done or error
//	GET    /api/containers?filter=F         every container, newest first
//	POST   /api/containers                  create and start (name, ports, env, volumes)
//	POST   /api/containers/ID/start|stop
//	DELETE /api/containers/ID               rm -f
//	GET    /api/containers/ID/logs          SSE: the log, following
//	GET    /api/containers/ID/exec          websocket: a shell on a pty in the container
//
// filter values are those of `images --filter` and `ps --filter`, read and
// refused by the engine with the same words as the CLI's.
package ui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/registry/client"
)

// Options configure a Server.
type Options struct {
	// Token is what every request must carry; empty generates one.
	Token string
	// Registry is the client for search and pull (stored logins,
	// insecure registries); nil is an anonymous client.
	Registry *client.Client
	// Version is shown in the page's footer.
	Version string
	Logger  *slog.Logger
}

// Server is the dashboard as an http.Handler.
type Server struct {
	e       *engine.Engine
	token   string
	reg     *client.Client
	version string
	log     *slog.Logger
	mux     *http.ServeMux
	pulls   *pulls
	// ctx outlives requests: pulls go on when the page that started them
	// is closed. Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
}

// New makes the dashboard over an open engine.
func New(e *engine.Engine, o Options) (*Server, error) {
	tok := o.Token
	if tok == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		tok = hex.EncodeToString(b)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = client.New(client.Options{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{e: e, token: tok, reg: o.Registry, version: o.Version, log: o.Logger, mux: http.NewServeMux(), ctx: ctx, cancel: cancel}
	s.pulls = newPulls()
	s.routes()
	return s, nil
}

// Token is the secret the dashboard's URL carries.
func (s *Server) Token() string { return s.token }

// Close stops pulls under way.
func (s *Server) Close() { s.cancel() }

func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /", assetHandler())
	m.HandleFunc("GET /api/info", s.info)
	m.HandleFunc("GET /api/images", s.listImages)
	m.HandleFunc("DELETE /api/images", s.removeImage)
	m.HandleFunc("GET /api/image", s.imageDetails)
	m.HandleFunc("GET /api/image/analysis", s.imageAnalysis)
	m.HandleFunc("GET /api/search", s.search)
	m.HandleFunc("POST /api/pulls", s.startPull)
	m.HandleFunc("GET /api/pulls/{id}/events", s.pullEvents)
	m.HandleFunc("GET /api/containers", s.listContainers)
	m.HandleFunc("POST /api/containers", s.runContainer)
	m.HandleFunc("POST /api/containers/{id}/start", s.startContainer)
	m.HandleFunc("POST /api/containers/{id}/stop", s.stopContainer)
	m.HandleFunc("DELETE /api/containers/{id}", s.removeContainer)
	m.HandleFunc("GET /api/containers/{id}/logs", s.containerLogs)
	m.HandleFunc("GET /api/containers/{id}/exec", s.execTerminal)
}

// ServeHTTP guards, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	if !s.guard(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"hub": s.e.DefaultHub(), "version": s.version, "terminal": vendored()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError answers {"error": message} with the status the error's kind
// maps to, as the hub's API does.
func apiError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), map[string]string{"error": err.Error()})
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrAlreadyExists):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errdefs.ErrDenied):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// readJSON decodes a small request body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: " + err.Error()})
		return false
	}
	return true
}
