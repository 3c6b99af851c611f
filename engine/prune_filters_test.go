package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// TestPruneKeep: prune removes what matches every filter, so an object is
// kept when it fails any of them.
func TestPruneKeep(t *testing.T) {
	type obj struct {
		created time.Time
		labels  map[string]string
	}
	now := time.Now()
	old := obj{now.Add(-48 * time.Hour), map[string]string{"tier": "web"}}
	young := obj{now.Add(-time.Minute), map[string]string{"tier": "db", "keep": ""}}
	bare := obj{now.Add(-48 * time.Hour), nil}
	for _, tc := range []struct {
		filters []string
		kept    [3]bool // old, young, bare
	}{
		{nil, [3]bool{false, false, false}},
		{[]string{"until=24h"}, [3]bool{false, true, false}},
		{[]string{"until=" + now.Add(-time.Hour).UTC().Format(time.RFC3339)}, [3]bool{false, true, false}},
		{[]string{"label=tier"}, [3]bool{false, false, true}},
		{[]string{"label=tier=web"}, [3]bool{false, true, true}},
		{[]string{"label!=keep"}, [3]bool{false, true, false}},
		{[]string{"until=24h", "label=tier=web"}, [3]bool{false, true, true}},
	} {
		keep, err := pruneKeep(tc.filters,
			func(o obj) time.Time { return o.created },
			func(o obj) map[string]string { return o.labels })
		if err != nil {
			t.Fatalf("%q: %v", tc.filters, err)
		}
		if got := [3]bool{keep(old), keep(young), keep(bare)}; got != tc.kept {
			t.Errorf("%q: kept old, young, bare = %v, want %v", tc.filters, got, tc.kept)
		}
	}
	for _, bad := range [][]string{{"colour=red"}, {"until"}, {"until=yesterday"}} {
		_, err := pruneKeep(bad, func(obj) time.Time { return now }, func(obj) map[string]string { return nil })
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%q: err = %v, want invalid", bad, err)
		}
	}
}
