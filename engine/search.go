package engine

import (
	"context"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/registry/client"
)

// SearchOptions configure Search.
type SearchOptions struct {
	Registry *client.Client
	// Limit is how many results to ask for: 1 to 100, 0 for 25.
	Limit int
	// Filters as `docker search --filter`: is-official=BOOL,
	// is-automated=BOOL, stars=N.
	Filters []string
}

// SearchResult is one repository a hub found.
type SearchResult struct {
	Name        string
	Description string
	Stars       int
	Official    bool
	Automated   bool
	// Badge is the hub's trust badge: "official", "verified_publisher",
	// "open_source", or "" for none (or a hub without badges).
	Badge string
}

// Search asks a hub for repositories, as `docker search`: TERM searches the
// default hub; HOST/TERM (a first component with a dot or colon, or
// localhost) searches that hub. Filters apply to what the hub answered.
func (e *Engine) Search(ctx context.Context, term string, o SearchOptions) ([]SearchResult, error) {
	limit := o.Limit
	if limit == 0 {
		limit = 25
	}
	if limit < 1 || limit > 100 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "limit %d is outside the range of [1, 100]", limit)
	}
	f, err := parseSearchFilters(o.Filters)
	if err != nil {
		return nil, err
	}
	host, text := e.hub, term
	if first, rest, ok := strings.Cut(term, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host, text = first, rest
	}
	c := o.Registry
	if c == nil {
		c = client.New(client.Options{})
	}
	found, err := c.Search(ctx, host, text, limit)
	if err != nil {
		return nil, err
	}
	var badges map[string]string
	hasBadges := false
	for _, r := range found {
		hasBadges = hasBadges || r.Badge != nil
	}
	if !hasBadges && len(found) > 0 {
		// berth hub says badges in its JSON API; other hubs have none.
		badges, _ = c.Badges(ctx, host, text, limit)
	}
	out := make([]SearchResult, 0, len(found))
	for _, r := range found {
		if f.automated != nil && *f.automated != r.IsAutomated ||
			f.official != nil && *f.official != r.IsOfficial ||
			r.StarCount < f.stars {
			continue
		}
		s := SearchResult{Name: r.Name, Description: r.Description, Stars: r.StarCount, Official: r.IsOfficial, Automated: r.IsAutomated}
		if r.Badge != nil {
			s.Badge = *r.Badge
		} else {
			s.Badge = badges[r.Name]
		}
		out = append(out, s)
	}
	return out, nil
}

type searchFilters struct {
	official, automated *bool
	stars               int
}

// parseSearchFilters validates filters with the daemon's words.
func parseSearchFilters(list []string) (searchFilters, error) {
	var f searchFilters
	// The daemon takes search's keys in any case, with spaces around.
	norm := make([]string, len(list))
	for i, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			kv = strings.ToLower(strings.TrimSpace(k)) + "=" + v
		}
		norm[i] = kv
	}
	values, err := searchFilterSpec.parse(norm)
	if err != nil {
		return f, err
	}
	// A boolean filter is "true" or "false", given once or always the same.
	boolean := func(k string) (*bool, error) {
		vs, ok := values[k]
		if !ok {
			return nil, nil
		}
		for _, v := range vs {
			if v != vs[0] || (v != "true" && v != "false") {
				return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid filter '%s=%s'", k, strings.Join(vs, ","))
			}
		}
		b := vs[0] == "true"
		return &b, nil
	}
	if f.official, err = boolean("is-official"); err != nil {
		return f, err
	}
	if f.automated, err = boolean("is-automated"); err != nil {
		return f, err
	}
	for _, v := range values["stars"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			return f, errdefs.Newf(errdefs.ErrInvalid, "invalid filter 'stars=%s'", v)
		}
		f.stars = max(f.stars, n)
	}
	return f, nil
}
