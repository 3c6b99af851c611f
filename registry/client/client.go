// Package client speaks the OCI distribution API (and Docker's v1 search) to
// any registry: berth hub, the distribution registry, and the rest.
//
// A Client holds what is shared between requests: connections, each host's
// scheme and auth challenge, and bearer tokens cached per scope. Repository
// methods resolve manifests, fetch blobs with Range resume, and push with
// chunked uploads and cross-repository mounts.
//
// The rules that keep credentials where they belong:
//   - loopback registries (localhost, 127.0.0.0/8, ::1) are spoken to in plain
//     HTTP, as Docker does; configured insecure registries over HTTPS without
//     verification, falling back to HTTP; every other one over verified HTTPS;
//   - an Authorization header is only ever set on a request to the registry
//     it belongs to: never to a descriptor's foreign URLs (CVE-2020-15157),
//     and it is dropped when a redirect leaves the registry's host (blob
//     downloads are often redirected to a storage service);
//   - Basic credentials go to a token realm only over HTTPS, or to a
//     loopback or configured-insecure realm;
//   - secrets never appear in errors or logs.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/retry"
)

// Credentials finds the login for a registry host ("localhost:5000").
type Credentials interface {
	Credentials(host string) (user, password string, ok bool)
}

// Options configure a Client. The zero value works.
type Options struct {
	// Credentials for registries; nil means anonymous everywhere.
	Credentials Credentials
	// Insecure lists registries (host, host:port or CIDR) reached over HTTPS
	// without certificate verification, or plain HTTP if they have no TLS.
	Insecure []string
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
	// UserAgent is sent with every request.
	UserAgent string
	// Retry is how a transient failure (connection reset, 5xx, 429, a
	// truncated body) is retried: every request and transfer of the
	// client, and the layer jobs of pull and push, follow it. Unset, it is
	// retry.Default with Retries and Backoff applied.
	Retry retry.Policy
	// Retries, when Retry is unset, is how many times a failure is retried
	// (Retry.Attempts-1); -1 means never. Default 4.
	Retries int
	// Backoff, when Retry is unset, is the first retry's delay, doubled
	// each time; default 250ms.
	Backoff time.Duration
	// StallTimeout ends a transfer that has moved nothing for this long
	// (it is then resumed): a download receiving nothing, an upload whose
	// body is not taken; a registry gets twice that to answer an upload.
	// Default 30s.
	StallTimeout time.Duration
	// ChunkSize is the size of upload chunks when the length is not known
	// in advance; default 8 MiB.
	ChunkSize int
}

// Client is a registry client; safe for concurrent use.
type Client struct {
	opts     Options
	secure   *http.Client
	insecure *http.Client // skips certificate verification
	foreign  *http.Client // foreign layer URLs: never any credentials

	mu     sync.Mutex
	hosts  map[string]*hostState
	tokens map[string]cachedToken
	fetch  map[string]*sync.Mutex // one token request per scope at a time
}

// hostState is what a ping learned about a registry.
type hostState struct {
	mu        sync.Mutex
	ready     bool
	scheme    string
	http      *http.Client
	challenge challenge
}

// New makes a client.
func New(opts Options) *Client {
	if opts.Retry.Attempts == 0 {
		opts.Retry = retry.Default
		if opts.Retries != 0 {
			opts.Retry.Attempts = max(opts.Retries, 0) + 1
		}
		if opts.Backoff > 0 {
			opts.Retry.Base = opts.Backoff
		}
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = 30 * time.Second
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 8 << 20
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "berth"
	}
	c := &Client{opts: opts, hosts: map[string]*hostState{}, tokens: map[string]cachedToken{}, fetch: map[string]*sync.Mutex{}}
	secureRT, insecureRT := opts.Transport, opts.Transport
	if secureRT == nil {
		secureRT = newTransport(&tls.Config{MinVersion: tls.VersionTLS12})
		insecureRT = newTransport(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only for registries the user listed as insecure
	}
	c.secure = &http.Client{Transport: secureRT, CheckRedirect: checkRedirect}
	c.insecure = &http.Client{Transport: insecureRT, CheckRedirect: checkRedirect}
	c.foreign = &http.Client{Transport: secureRT, CheckRedirect: checkRedirect}
	return c
}

// newTransport is tuned for many large parallel downloads from one host:
// HTTP/1.1 (one TCP stream per layer rather than all multiplexed on one),
// enough idle connections per host to keep them alive, big buffers, and no
// transparent gzip (blobs must arrive byte for byte).
func newTransport(tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ReadBufferSize:        256 << 10,
		WriteBufferSize:       256 << 10,
	}
}

// checkRedirect follows up to 10 redirects, dropping the Authorization
// header as soon as the target is not the host (and scheme) the request
// was first sent to. Go drops it on a change of domain already; this also
// covers another port of the same host and a downgrade to plain HTTP.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
		req.Header.Del("Authorization")
	}
	return nil
}

// IsLoopback reports whether host (host[:port]) is this machine: localhost,
// 127.0.0.0/8 or ::1. Docker speaks plain HTTP to those.
func IsLoopback(host string) bool {
	h := hostname(host)
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

// isInsecure reports whether host is on the configured insecure list.
func (c *Client) isInsecure(host string) bool {
	h := hostname(host)
	ip := net.ParseIP(h)
	for _, e := range c.opts.Insecure {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == strings.ToLower(host) || e == h {
			return true
		}
		if _, n, err := net.ParseCIDR(e); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// host returns what is known about a registry, pinging it once: the scheme
// to use and its auth challenge.
func (c *Client) host(ctx context.Context, host string) (*hostState, error) {
	c.mu.Lock()
	h, ok := c.hosts[host]
	if !ok {
		h = &hostState{}
		c.hosts[host] = h
	}
	c.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ready {
		return h, nil
	}
	if err := c.ping(ctx, host, h); err != nil {
		return nil, err
	}
	h.ready = true
	return h, nil
}

// Ping checks that host answers as a registry (GET /v2/ with 200 or a 401
// challenge) and learns its scheme and auth challenge.
func (c *Client) Ping(ctx context.Context, host string) error {
	_, err := c.host(ctx, host)
	return err
}

// ping finds the scheme (trying HTTPS first for insecure registries) and the
// challenge of GET /v2/.
func (c *Client) ping(ctx context.Context, host string, h *hostState) error {
	type try struct {
		scheme string
		client *http.Client
	}
	var tries []try
	switch {
	case c.isInsecure(host):
		tries = []try{{"https", c.insecure}, {"http", c.insecure}}
	case IsLoopback(host):
		tries = []try{{"http", c.secure}}
	default:
		tries = []try{{"https", c.secure}}
	}
	var lastErr error
	for i, t := range tries {
		u := t.scheme + "://" + host + "/v2/"
		resp, err := c.roundTrip(ctx, t.client, func() (*http.Request, error) {
			return c.newRequest(ctx, http.MethodGet, u, nil)
		}, true, 0)
		if err != nil {
			lastErr = err
			if i+1 < len(tries) && isTLSMismatch(err) {
				continue
			}
			return err
		}
		drain(resp)
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusUnauthorized:
			for _, ch := range parseChallenges(resp.Header.Values("WWW-Authenticate")) {
				if ch.scheme == "bearer" || ch.scheme == "basic" {
					h.challenge = ch
					break
				}
			}
		default:
			return &Error{Status: resp.StatusCode, Method: http.MethodGet, URL: u,
				Message: fmt.Sprintf("%s does not answer as a registry: GET /v2/ gave %s", host, resp.Status)}
		}
		h.scheme, h.http = t.scheme, t.client
		return nil
	}
	return lastErr
}

// isTLSMismatch reports a server that does not speak TLS.
func isTLSMismatch(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

func (c *Client) newRequest(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	return req, nil
}

// request is one registry API call.
type request struct {
	method string
	url    string // absolute
	header http.Header
	// body is replayable; stream is not (a request with one is sent once).
	body   []byte
	stream io.Reader
	length int64 // of stream, -1 when unknown
	scopes []string
	// once turns off the transport's retries: for a request whose caller
	// retries it (a blob or manifest GET, an upload's status) or must ask
	// its fate first (an upload chunk), so that retries do not multiply.
	once bool
	// watch ends the request when it makes no progress (see watchdog):
	// pushes, whose body writes have no other timeout. Blob downloads
	// watch themselves.
	watch bool
}

// send makes an authorized call to a registry: a bearer token for the
// request's scopes (or Basic credentials) goes on requests to the
// registry's own host only. A 401 is answered once by renewing the token
// with the challenge the registry gave.
func (c *Client) send(ctx context.Context, host string, r request) (*http.Response, error) {
	h, err := c.host(ctx, host)
	if err != nil {
		return nil, err
	}
	replayable := r.stream == nil
	renewed := false
	for {
		auth, err := c.authorization(ctx, host, h, r.scopes, false)
		if err != nil {
			return nil, err
		}
		build := func() (*http.Request, error) {
			var body io.Reader
			if r.stream != nil {
				body = r.stream
			} else if r.body != nil {
				body = bytes.NewReader(r.body)
			}
			req, err := c.newRequest(ctx, r.method, r.url, body)
			if err != nil {
				return nil, err
			}
			for k, v := range r.header {
				req.Header[k] = v
			}
			if r.stream != nil {
				req.ContentLength = r.length
			}
			if auth != "" && req.URL.Host == host {
				req.Header.Set("Authorization", auth)
			}
			return req, nil
		}
		var stall time.Duration
		if r.watch {
			stall = c.opts.StallTimeout
		}
		resp, err := c.roundTrip(ctx, h.http, build, replayable && !r.once, stall)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || renewed || !replayable {
			return resp, nil
		}
		chs := parseChallenges(resp.Header.Values("WWW-Authenticate"))
		var ch challenge
		for _, x := range chs {
			if x.scheme == "bearer" || x.scheme == "basic" {
				ch = x
				break
			}
		}
		// Nothing to renew with, or a valid token that does not grant the
		// access (renewing would get the same): the caller gets the 401.
		if ch.scheme == "" || (ch.scheme == "basic" && !c.hasCredentials(host)) || (ch.params["error"] == "insufficient_scope" && auth != "") {
			return resp, nil
		}
		drain(resp)
		h.mu.Lock()
		h.challenge = ch
		h.mu.Unlock()
		scopes := r.scopes
		if s := ch.params["scope"]; s != "" && !slices.Contains(scopes, s) {
			scopes = append(append([]string(nil), scopes...), strings.Fields(s)...)
		}
		if _, err := c.authorization(ctx, host, h, scopes, true); err != nil {
			return nil, err
		}
		r.scopes = scopes
		renewed = true
	}
}

func (c *Client) hasCredentials(host string) bool {
	if c.opts.Credentials == nil {
		return false
	}
	_, _, ok := c.opts.Credentials.Credentials(host)
	return ok
}
