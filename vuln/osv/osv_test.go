package osv_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/vuln/osv"
)

// intVersion orders plain integers, so range semantics are tested apart
// from any ecosystem's version order.
type intVersion int

func (a intVersion) Compare(b osv.Version) int { return int(a) - int(b.(intVersion)) }

func parseInt(s string) (osv.Version, error) {
	n, err := strconv.Atoi(s)
	return intVersion(n), err
}

func ev(spec string) []osv.Event {
	var out []osv.Event
	for _, f := range strings.Fields(spec) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "i":
			out = append(out, osv.Event{Introduced: v})
		case "f":
			out = append(out, osv.Event{Fixed: v})
		case "l":
			out = append(out, osv.Event{LastAffected: v})
		case "x":
			out = append(out, osv.Event{Limit: v})
		}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		events   string
		versions []string
		affected []int // versions 0..12 that are affected
		fixedAt5 []string
	}{
		{"i=0 f=5", nil, []int{0, 1, 2, 3, 4}, nil},
		{"i=3 f=5", nil, []int{3, 4}, nil},
		{"i=3", nil, []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, nil},
		{"i=3 l=5", nil, []int{3, 4, 5}, nil},
		{"i=0 f=2 i=4 f=6 i=8", nil, []int{0, 1, 4, 5, 8, 9, 10, 11, 12}, []string{"6"}},
		{"f=6 i=8 i=4 f=2 i=0", nil, []int{0, 1, 4, 5, 8, 9, 10, 11, 12}, []string{"6"}}, // events in any order
		{"i=0 x=7", nil, []int{0, 1, 2, 3, 4, 5, 6}, nil},
		{"i=10 f=11", []string{"2"}, []int{2, 10}, nil},
		{"", []string{"7"}, []int{7}, nil},
	}
	for _, tc := range tests {
		entry := &osv.Affected{Versions: tc.versions}
		if tc.events != "" {
			entry.Ranges = []osv.Range{{Type: "ECOSYSTEM", Events: ev(tc.events)}, {Type: "GIT", Events: ev("i=0")}}
		}
		var got []int
		for v := 0; v <= 12; v++ {
			verdict, err := osv.Evaluate(entry, strconv.Itoa(v), nil, parseInt)
			if err != nil {
				t.Fatal(err)
			}
			if verdict.Affected {
				got = append(got, v)
			}
			if v == 5 && tc.fixedAt5 != nil && !slices.Equal(verdict.FixedIn, tc.fixedAt5) {
				t.Errorf("%q: fixed for 5 = %v, want %v", tc.events, verdict.FixedIn, tc.fixedAt5)
			}
		}
		if !slices.Equal(got, tc.affected) {
			t.Errorf("%q versions %v: affected %v, want %v", tc.events, tc.versions, got, tc.affected)
		}
	}
}

// An unparsable range is reported and skipped; the others still count.
func TestEvaluateBadRange(t *testing.T) {
	entry := &osv.Affected{Ranges: []osv.Range{
		{Type: "ECOSYSTEM", Events: ev("i=0 f=notanumber")},
		{Type: "SEMVER", Events: ev("i=0 f=9")},
	}}
	verdict, err := osv.Evaluate(entry, "3", parseInt, parseInt)
	if err == nil || !verdict.Affected || !slices.Equal(verdict.FixedIn, []string{"9"}) {
		t.Errorf("verdict %+v, err %v", verdict, err)
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{
		`{`, `{"summary":"x"}`, `{"id":"X","affected":[{"package":{"name":"a"}}]}`,
		`{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1"}]}]}]}`,
	} {
		if _, err := osv.Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	a, err := osv.Parse([]byte(`{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-1"],"affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`))
	if err != nil || a.ID != "GHSA-1" || a.Affected[0].Ranges[0].Events[1].Fixed != "1.0.0" {
		t.Errorf("parse: %+v %v", a, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"GHSA-1","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1"}]}],"versions":["0.5"]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := osv.Parse(b)
		if err != nil {
			return
		}
		for i := range a.Affected {
			osv.Evaluate(&a.Affected[i], "5", parseInt, parseInt)
		}
	})
}
