package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The pages read and change the hub only through its JSON API and token
// endpoint (docs/hub-api.md), called in process: what a page shows is what
// any client may see, with the same rules for private repositories, stars
// and owners.

// Repo is a repository as the API answers it.
type Repo struct {
	Name            string    `json:"name"`
	Namespace       string    `json:"namespace"`
	Repository      string    `json:"repository"`
	Description     string    `json:"description"`
	FullDescription string    `json:"full_description"`
	Badge           string    `json:"badge"`
	IsOfficial      bool      `json:"is_official"`
	Stars           int64     `json:"star_count"`
	Pulls           int64     `json:"pull_count"`
	Private         bool      `json:"is_private"`
	LastPushed      time.Time `json:"last_pushed"`
	Starred         *bool     `json:"starred"`
}

// Tag is a tag with its images, one per platform.
type Tag struct {
	Name      string     `json:"name"`
	Digest    string     `json:"digest"`
	MediaType string     `json:"media_type"`
	Size      int64      `json:"size"`
	Updated   time.Time  `json:"last_updated"`
	Images    []Platform `json:"images"`
}

// Platform is one platform's image of a tag.
type Platform struct {
	Digest       string     `json:"digest"`
	OS           string     `json:"os"`
	Architecture string     `json:"architecture"`
	Variant      string     `json:"variant"`
	Size         int64      `json:"size"`
	Created      *time.Time `json:"created"`
	Layers       []Layer    `json:"layers"`
}

// Layer is one step of an image's history.
type Layer struct {
	CreatedBy string     `json:"created_by"`
	Created   *time.Time `json:"created"`
	Digest    string     `json:"digest"`
	Size      int64      `json:"size"`
	Empty     bool       `json:"empty_layer"`
}

// Name is os/arch[/variant].
func (p Platform) Name() string {
	if p.OS == "" {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// SearchResults is a page of search results.
type SearchResults struct {
	Query    string `json:"query"`
	Total    int    `json:"total"`
	Page     int    `json:"page"`
	PageSize int    `json:"page_size"`
	Results  []Repo `json:"results"`
}

// Namespace is a user's, an organisation's or the official repositories.
type Namespace struct {
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	Repositories []Repo   `json:"repositories"`
	Members      []string `json:"members"`
}

// User is who a session belongs to.
type User struct {
	Name    string   `json:"name"`
	Admin   bool     `json:"admin"`
	Orgs    []string `json:"orgs"`
	Starred []string `json:"starred"`
}

// Owns reports whether the user may change a repository of namespace ns.
func (u *User) Owns(ns string) bool {
	if u == nil {
		return false
	}
	if u.Admin || u.Name == ns {
		return true
	}
	for _, o := range u.Orgs {
		if o == ns {
			return true
		}
	}
	return false
}

// apiError is a refusal of the API, with its status.
type apiError struct {
	Status     int
	Message    string
	RetryAfter string // the Retry-After of a 429
}

func (e *apiError) Error() string { return e.Message }

// recorder is the smallest http.ResponseWriter: the API's answer in memory.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// call sends one request to the API and decodes a 2xx answer into out.
func (s *Site) call(ctx context.Context, method, path string, q url.Values, bearer string, body io.Reader, contentType string, out any) error {
	u := path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Host = s.host
	req.RemoteAddr = "127.0.0.1:0"
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := &recorder{header: http.Header{}}
	s.api.ServeHTTP(rec, req)
	if rec.status < 200 || rec.status > 299 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &e)
		msg := e.Error
		if e.Description != "" {
			msg = e.Description
		}
		if msg == "" {
			msg = strings.TrimSpace(rec.body.String())
		}
		return &apiError{Status: rec.status, Message: msg, RetryAfter: rec.header.Get("Retry-After")}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("reading the hub's answer to %s: %w", path, err)
	}
	return nil
}

func (s *Site) get(ctx context.Context, path string, q url.Values, bearer string, out any) error {
	return s.call(ctx, http.MethodGet, path, q, bearer, nil, "", out)
}

// tokens asks the token endpoint (OAuth2 form) and returns the access and
// refresh tokens.
func (s *Site) tokens(ctx context.Context, form url.Values) (access, refresh string, err error) {
	form.Set("service", s.service)
	form.Set("client_id", "berth-hub-web")
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	err = s.call(ctx, http.MethodPost, "/token", nil, "", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", &out)
	return out.AccessToken, out.RefreshToken, err
}
