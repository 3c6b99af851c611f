// Package web is the hub's web pages: search with badge filters and sort,
// a page per repository (its markdown description rendered safely, tags
// with size, platforms and push time, layers, pull commands, a star
// button), each namespace's page, repository settings for owners, and
// sign in and out. It is a client of the hub's JSON API (see api.go); the
// hub routes every path its APIs do not own here.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	units "github.com/docker/go-units"
)

//go:embed templates static
var files embed.FS

// Options configure the pages.
type Options struct {
	// API answers the hub's /api/v1/ and /token as the hub does.
	API http.Handler
	// PublicURL is where users reach the hub: pull commands name its
	// host, and an https URL makes the cookies Secure.
	PublicURL string
	// Service is the token service name.
	Service string
	Logger  *slog.Logger
}

// Site serves the pages.
type Site struct {
	api     http.Handler
	host    string // the hub's host:port, for pull commands
	service string
	secure  bool
	log     *slog.Logger
	pages   map[string]*template.Template
	mux     *http.ServeMux
}

// New makes the pages.
func New(o Options) (*Site, error) {
	u, err := url.Parse(o.PublicURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("web pages: public URL %q: want http(s)://host[:port]", o.PublicURL)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Site{api: o.API, host: u.Host, service: o.Service, secure: u.Scheme == "https", log: o.Logger, pages: map[string]*template.Template{}}
	for _, name := range []string{"search", "repo", "namespace", "signin", "settings", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		s.pages[name] = t
	}
	static, _ := fs.Sub(files, "static")
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", s.searchPage)
	m.HandleFunc("GET /r/{name...}", s.repoPage)
	m.HandleFunc("POST /star/{name...}", s.star)
	m.HandleFunc("GET /settings/{name...}", s.settingsPage)
	m.HandleFunc("POST /settings/{name...}", s.saveSettings)
	m.HandleFunc("GET /u/{ns}", s.namespacePage)
	m.HandleFunc("GET /signin", s.signinPage)
	m.HandleFunc("POST /signin", s.signinPost)
	m.HandleFunc("POST /signout", s.signout)
	s.mux = m
	return s, nil
}

// ServeHTTP sets the pages' security headers, refuses cross-site POSTs,
// and routes.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		s.fail(w, r, nil, http.StatusForbidden, "This form was sent from another site, so it was refused.")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Title   string
	User    *User
	CSRF    string
	Host    string
	Path    string // this page's path and query, for sign-in's return
	Query   string // the search box's text
	Content any
}

func (s *Site) render(w http.ResponseWriter, r *http.Request, se *session, status int, name, title string, content any) {
	p := page{Title: title, CSRF: se.csrf(), Host: s.host, Path: r.URL.RequestURI(), Content: content}
	if se != nil {
		p.User = se.user
	}
	if name == "search" {
		p.Query = r.URL.Query().Get("q")
	}
	var buf strings.Builder
	if err := s.pages[name].Execute(&buf, p); err != nil {
		s.log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "the page could not be made", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// fail shows an error page; an API refusal keeps its status.
func (s *Site) fail(w http.ResponseWriter, r *http.Request, se *session, status int, msg string) {
	s.render(w, r, se, status, "error", http.StatusText(status), msg)
}

func (s *Site) failErr(w http.ResponseWriter, r *http.Request, se *session, err error) {
	if e, ok := err.(*apiError); ok {
		s.fail(w, r, se, e.Status, e.Message)
		return
	}
	s.log.Warn("web page failed", "path", r.URL.Path, "err", err)
	s.fail(w, r, se, http.StatusInternalServerError, err.Error())
}

var funcs = template.FuncMap{
	"size": func(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) },
	"ago": func(t any) string {
		var tt time.Time
		switch v := t.(type) {
		case time.Time:
			tt = v
		case *time.Time:
			if v != nil {
				tt = *v
			}
		}
		if tt.IsZero() {
			return ""
		}
		return units.HumanDuration(time.Since(tt)) + " ago"
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"badge": func(b string) string {
		switch b {
		case "official":
			return "Official Image"
		case "verified_publisher":
			return "Verified Publisher"
		case "open_source":
			return "Sponsored OSS"
		}
		return ""
	},
	"short": func(d string) string {
		d = strings.TrimPrefix(d, "sha256:")
		if len(d) > 12 {
			return d[:12]
		}
		return d
	},
	"markdown": renderMarkdown,
	"path":     func(s string) string { return (&url.URL{Path: s}).EscapedPath() },
	"deref":    func(b *bool) bool { return b != nil && *b },
}
