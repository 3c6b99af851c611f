package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/errdefs"
)

// SearchResult is one repository of a Docker v1 search answer.
type SearchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	IsAutomated bool   `json:"is_automated"`
	// Badge is the hub's trust badge ("official", "verified_publisher",
	// "open_source"), nil when the hub's answer had no such field.
	Badge *string `json:"badge,omitempty"`
}

const searchScope = "registry:catalog:search"

// Search runs Docker's v1 search on a hub: GET /v1/search?q=TERM&n=LIMIT,
// as `docker search HOST/TERM` does.
func (c *Client) Search(ctx context.Context, host, term string, limit int) ([]SearchResult, error) {
	h, err := c.host(ctx, host)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: h.scheme, Host: host, Path: "/v1/search", RawQuery: url.Values{"q": {term}, "n": {strconv.Itoa(limit)}}.Encode()}
	resp, err := c.send(ctx, host, request{method: http.MethodGet, url: u.String(), scopes: []string{searchScope}})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		drain(resp)
		return nil, fmt.Errorf("%s has no search (GET /v1/search answered 404 Not Found): %w", host, errdefs.ErrUnsupported)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp, http.MethodGet, resp.Request.URL)
	}
	defer resp.Body.Close()
	return decodeSearch(resp.Body, host)
}

// decodeSearch reads a v1 search answer.
func decodeSearch(r io.Reader, host string) ([]SearchResult, error) {
	var body struct {
		Results []SearchResult `json:"results"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("search answer from %s: %v: %w", host, err, errdefs.ErrInvalid)
	}
	return body.Results, nil
}

// Badges asks a berth hub's JSON API (GET /api/v1/search) for the badges of
// the repositories a search finds, by listed name. Other hubs answer 404,
// which is an error here; callers treat badges as optional.
func (c *Client) Badges(ctx context.Context, host, term string, limit int) (map[string]string, error) {
	h, err := c.host(ctx, host)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: h.scheme, Host: host, Path: "/api/v1/search",
		RawQuery: url.Values{"q": {term}, "page_size": {strconv.Itoa(limit)}}.Encode()}
	resp, err := c.send(ctx, host, request{method: http.MethodGet, url: u.String(), scopes: []string{searchScope}})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp, http.MethodGet, resp.Request.URL)
	}
	defer resp.Body.Close()
	var body struct {
		Results []struct {
			Name  string `json:"name"`
			Badge string `json:"badge"`
		} `json:"results"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("search answer from %s: %v: %w", host, err, errdefs.ErrInvalid)
	}
	out := make(map[string]string, len(body.Results))
	for _, r := range body.Results {
		out[r.Name] = r.Badge
	}
	return out, nil
}
