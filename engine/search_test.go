package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/hubtest"
)

func TestSearchFiltersAndBadges(t *testing.T) {
	ctx := context.Background()
	h := hubtest.New(t, hubtest.Options{Seed: true})
	h.PushRandom(t, "acme/welcome-kit:1", 1, 100)
	h.SetRepo(t, "acme/welcome-kit", hubtest.Repo{Badge: hubtest.Ptr("verified_publisher"), Description: hubtest.Ptr("kit"), Stars: hubtest.Ptr[int64](3)})
	h.PushRandom(t, "zed/welcome-fork:1", 1, 100)
	e, err := Open(ctx, Options{Root: t.TempDir(), DefaultHub: h.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	all, err := e.Search(ctx, "welcome", SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]SearchResult{}
	for _, r := range all {
		byName[r.Name] = r
	}
	if len(all) != 3 || all[0].Name != "welcome" || !all[0].Official || all[0].Stars != 42 || all[0].Badge != "official" {
		t.Fatalf("results %+v", all)
	}
	if byName["acme/welcome-kit"].Badge != "verified_publisher" || byName["zed/welcome-fork"].Badge != "" {
		t.Errorf("badges: %+v", byName)
	}
	for _, tc := range []struct {
		filters []string
		want    int
	}{
		{[]string{"is-official=true"}, 1},
		{[]string{"is-official=false"}, 2},
		{[]string{"stars=3"}, 2},
		{[]string{"stars=1", "stars=43"}, 0},
		{[]string{"is-automated=false", "stars=0"}, 3},
	} {
		got, err := e.Search(ctx, "welcome", SearchOptions{Filters: tc.filters})
		if err != nil || len(got) != tc.want {
			t.Errorf("filters %v: %d results %v, want %d", tc.filters, len(got), err, tc.want)
		}
	}
	if got, err := e.Search(ctx, "welcome", SearchOptions{Limit: 1}); err != nil || len(got) != 1 {
		t.Errorf("limit 1: %v %v", got, err)
	}
	// HOST/TERM searches that hub, whatever the default.
	other, err := Open(ctx, Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := other.Search(ctx, h.Host+"/welcome", SearchOptions{}); err != nil || len(got) != 3 {
		t.Errorf("HOST/TERM: %v %v", got, err)
	}
	for _, tc := range []struct {
		o    SearchOptions
		want string
	}{
		{SearchOptions{Filters: []string{"color=red"}}, "invalid filter 'color'"},
		{SearchOptions{Filters: []string{"stars=many"}}, "invalid filter 'stars=many'"},
		{SearchOptions{Filters: []string{"is-official=yes"}}, "invalid filter 'is-official=yes'"},
		{SearchOptions{Filters: []string{"stars"}}, "bad format of filter (expected name=value)"},
		{SearchOptions{Limit: 101}, "limit 101 is outside the range of [1, 100]"},
	} {
		_, err := e.Search(ctx, "welcome", tc.o)
		if !errors.Is(err, errdefs.ErrInvalid) || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
