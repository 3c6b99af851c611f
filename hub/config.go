package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/meta"
)

// Config builds a Hub. The zero value of every field but Root has a default.
type Config struct {
	// Root holds the blobs, the database and the token key unless Blobs and
	// Meta are given.
	Root string
	// PublicURL is where clients reach the hub; the token realm is
	// PublicURL + "/token". Default http://127.0.0.1:5000.
	PublicURL string
	// Service is the token service name; default PublicURL's host.
	Service string
	// Open lets anyone do anything, anonymous push included: for local
	// tinkering and the conformance suite.
	Open bool

	Blobs  blobs.Store
	Meta   meta.Store
	Logger *slog.Logger

	TokenTTL   time.Duration // access tokens, default 5 minutes
	RefreshTTL time.Duration // refresh tokens (docker login), default 90 days

	// Password guessing is throttled so that a guesser slows down
	// themselves, not the owner: after SignInFailuresPerIP failed password
	// checks from one client address across names (default 20; IPv6
	// counts by /64) that address is refused; after SignInFailures (default
	// 5) for one name from one address, that address is refused that name;
	// after SignInFailures for one name from anywhere, the name is refused
	// to addresses that have failures of their own, not to others. Failures
	// count within SignInWindow (default 15 minutes); refusals last
	// SignInBackoff (default 15 minutes), are 429 Too Many Requests with
	// Retry-After, and come before any password is checked.
	// A negative limit turns it off: behind a proxy every client has the
	// proxy's address, and the hub does not believe X-Forwarded-For.
	SignInFailures      int
	SignInFailuresPerIP int
	SignInWindow        time.Duration
	SignInBackoff       time.Duration

	// GCInterval is how often unreachable content is collected (default 1
	// hour; negative turns the collector off). GCGrace is how long content
	// stays after it was last uploaded, linked or looked at, even if nothing
	// refers to it (default 1 hour). UploadMaxAge is how long an idle upload
	// is kept (default 24 hours).
	GCInterval   time.Duration
	GCGrace      time.Duration
	UploadMaxAge time.Duration
	// UploadIdleTimeout is how long an upload's request body may send
	// nothing before the hub drops it (default 2 minutes): the upload is
	// locked while its body arrives, and a client gone without closing its
	// connection would otherwise hold it until TCP keepalive notices.
	UploadIdleTimeout time.Duration
	// BodyIdleTimeout is how long any other request body (a /token or
	// sign-in form, a JSON API call, a manifest) may take to send each 4
	// KiB, the whole of a smaller one (default 30 seconds): a client
	// sending a byte a second would otherwise hold its connection and
	// handler as long as it liked. It is not a deadline on the whole
	// request, which would cut large bodies on slow links.
	BodyIdleTimeout time.Duration

	// MetricsToken, if set, serves /metrics on the public address to
	// requests with "Authorization: Bearer MetricsToken". Without it the
	// public address has no /metrics: they tell anyone how the hub is used
	// and by how many. Server.MetricsAddr serves them on an address of
	// their own (a loopback or internal one) instead.
	MetricsToken string

	// ChangePoll is how often the change log is read (default 1 second).
	ChangePoll time.Duration

	// Seed, when set, puts the welcome image in an empty hub.
	Seed *SeedConfig

	// VulnDB is the OSV database pushed images are matched against
	// (default Root/vuln/osv.db); while it is missing, analyses say so.
	// AnalysisWorkers is how many images are analysed at once in the
	// background (default 1; negative turns analysis off).
	VulnDB          string
	AnalysisWorkers int
}

// withDefaults checks the public URL and fills in the defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://127.0.0.1:5000"
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return cfg, fmt.Errorf("public URL %q: want http(s)://host[:port]", cfg.PublicURL)
	}
	cfg.PublicURL = u.Scheme + "://" + u.Host + trimSlash(u.Path)
	if cfg.Service == "" {
		cfg.Service = u.Host
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	setDefault(&cfg.TokenTTL, 5*time.Minute)
	setDefault(&cfg.RefreshTTL, 90*24*time.Hour)
	setDefault(&cfg.GCInterval, time.Hour)
	setDefault(&cfg.GCGrace, time.Hour)
	setDefault(&cfg.UploadMaxAge, 24*time.Hour)
	setDefault(&cfg.UploadIdleTimeout, 2*time.Minute)
	setDefault(&cfg.BodyIdleTimeout, 30*time.Second)
	setDefault(&cfg.ChangePoll, time.Second)
	setDefault(&cfg.SignInWindow, 15*time.Minute)
	setDefault(&cfg.SignInBackoff, 15*time.Minute)
	if cfg.SignInFailures == 0 {
		cfg.SignInFailures = 5
	}
	if cfg.SignInFailuresPerIP == 0 {
		cfg.SignInFailuresPerIP = 20
	}
	if cfg.Root == "" && (cfg.Blobs == nil || cfg.Meta == nil) {
		return cfg, errors.New("hub: no root directory")
	}
	return cfg, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
