package search

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

func names(r Result) []string {
	var out []string
	for _, e := range r.Entries {
		out = append(out, e.Name)
	}
	return out
}

func TestRanking(t *testing.T) {
	x := New()
	for _, e := range []Entry{
		{Name: "welcome", Repo: "library/welcome", Badge: "official", Stars: 5, Description: "hello"},
		{Name: "alice/welcome", Repo: "alice/welcome", Stars: 100},
		{Name: "welcome-page", Repo: "library/welcome-page", Stars: 1},
		{Name: "bob/welcomer", Repo: "bob/welcomer", Stars: 50},
		{Name: "zed/the-welcome-kit", Repo: "zed/the-welcome-kit", Stars: 900},
		{Name: "nginx", Repo: "library/nginx", Badge: "official", Stars: 1000, Description: "web server, welcome page"},
		{Name: "carol/secret-welcome", Repo: "carol/secret-welcome", Private: true, Stars: 9999},
		{Name: "dave/unrelated", Repo: "dave/unrelated"},
	} {
		x.Put(e)
	}
	got := names(x.Search(Query{Text: "welcome"}))
	// Exact (official first), prefix (by stars), substring, description.
	want := []string{"welcome", "alice/welcome", "bob/welcomer", "welcome-page", "zed/the-welcome-kit", "nginx"}
	if !slices.Equal(got, want) {
		t.Fatalf("ranking:\n got %v\nwant %v", got, want)
	}
	vis := x.Search(Query{Text: "welcome", Visible: func(e Entry) bool { return e.Repo == "carol/secret-welcome" }})
	if !slices.Contains(names(vis), "carol/secret-welcome") || vis.Total != 7 {
		t.Fatalf("visible private entry missing: %v (%d)", names(vis), vis.Total)
	}
	if r := x.Search(Query{Text: "WELCOME", Badge: "official"}); !slices.Equal(names(r), []string{"welcome", "nginx"}) {
		t.Fatalf("badge filter: %v", names(r))
	}
	if r := x.Search(Query{Text: "welcome", Sort: "stars", Limit: 2}); !slices.Equal(names(r), []string{"nginx", "zed/the-welcome-kit"}) || r.Total != 6 {
		t.Fatalf("sort by stars: %v total %d", names(r), r.Total)
	}
	if r := x.Search(Query{Text: "welcome", Offset: 4, Limit: 4}); !slices.Equal(names(r), []string{"zed/the-welcome-kit", "nginx"}) {
		t.Fatalf("second page: %v", names(r))
	}
	if r := x.Search(Query{Text: "welcome", MinStars: 100}); !slices.Equal(names(r), []string{"alice/welcome", "zed/the-welcome-kit", "nginx"}) {
		t.Fatalf("min stars: %v", names(r))
	}
	x.Remove("alice/welcome")
	x.Put(Entry{Name: "bob/welcomer", Repo: "bob/welcomer", Stars: 0})
	if r := names(x.Search(Query{Text: "welcome"})); slices.Contains(r, "alice/welcome") || r[1] != "welcome-page" {
		t.Fatalf("after remove and update: %v", r)
	}
	if x.Len() != 7 {
		t.Fatalf("Len = %d", x.Len())
	}
}

// TestRankingMatchesSort checks the heap's page against a full sort.
func TestRankingMatchesSort(t *testing.T) {
	x := New()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		x.Put(Entry{Name: fmt.Sprintf("ns%d/app%d", r.IntN(50), i), Repo: fmt.Sprint(i), Stars: int64(r.IntN(100)), Badge: []string{"", "official"}[r.IntN(2)], LastPushed: time.Unix(int64(r.IntN(1000)), 0)})
	}
	for _, sortBy := range []string{"", "stars", "updated", "name", "pulls"} {
		all := x.Search(Query{Text: "app1", Sort: sortBy, Limit: 100000})
		page := x.Search(Query{Text: "app1", Sort: sortBy, Offset: 20, Limit: 10})
		if !slices.Equal(names(page), names(all)[20:30]) {
			t.Fatalf("sort %q: page differs from the full order", sortBy)
		}
		for i := 1; i < len(all.Entries); i++ {
			if orderKey(sortBy, all.Entries[i]) < orderKey(sortBy, all.Entries[i-1]) {
				t.Fatalf("sort %q: %v before %v", sortBy, all.Entries[i-1], all.Entries[i])
			}
		}
	}
}

// orderKey is the primary order of each sort, computed the slow way.
func orderKey(sortBy string, e Entry) int64 {
	switch sortBy {
	case "stars":
		return -e.Stars
	case "pulls":
		return -e.Pulls
	case "updated":
		return -e.LastPushed.Unix()
	}
	return 0
}

var words = []string{"web", "api", "db", "cache", "proxy", "queue", "auth", "mail", "search", "log", "metrics", "ci", "build", "node", "python", "go", "java", "ruby", "nginx", "redis"}

// bigIndex is 100,000 repositories with realistic names and descriptions.
func bigIndex() *Index {
	x := New()
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 100_000 {
		w1, w2 := words[r.IntN(len(words))], words[r.IntN(len(words))]
		name := fmt.Sprintf("user%d/%s-%s-%d", r.IntN(20000), w1, w2, i)
		x.Put(Entry{Name: name, Repo: name, Stars: int64(r.IntN(5000)), Private: r.IntN(10) == 0,
			Description: fmt.Sprintf("A %s service with %s support, version %d", w1, w2, r.IntN(100))})
	}
	return x
}

// TestSearchLatency100k measures p50 and p99 over 100,000 repositories for
// the queries people type, and reports them (the goal is p99 under 10 ms;
// bench/hub.sh reports it too). It fails only if a query returns wrong
// results, never because a shared machine was slow.
func TestSearchLatency100k(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode")
	}
	x := bigIndex()
	queries := append([]string{"", "a", "e", "user1", "web-api", "redis", "support", "zzz-none", "proxy-cache-77"}, words...)
	// Wall time includes waiting for a CPU on a busy machine; the thread's
	// CPU time is what a query costs. Both are reported.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var wall, cpu []time.Duration
	for range 10 {
		for _, q := range queries {
			start, c0 := time.Now(), threadCPU()
			x.Search(Query{Text: q, Limit: 25, Visible: func(Entry) bool { return false }})
			wall, cpu = append(wall, time.Since(start)), append(cpu, threadCPU()-c0)
		}
	}
	slices.Sort(wall)
	slices.Sort(cpu)
	pct := func(d []time.Duration, p int) time.Duration { return d[len(d)*p/100] }
	var load [3]float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscanf(string(b), "%f %f %f", &load[0], &load[1], &load[2])
	}
	t.Logf("search over %d repositories: p50 %v, p99 %v wall; p50 %v, p99 %v CPU (%d queries, load average %.1f)",
		x.Len(), pct(wall, 50), pct(wall, 99), pct(cpu, 50), pct(cpu, 99), len(wall), load[0])
	if r := x.Search(Query{Text: "redis", Limit: 5}); r.Total == 0 || len(r.Entries) != 5 {
		t.Fatalf("search for redis found %d (%d on the page)", r.Total, len(r.Entries))
	}
}

// threadCPU is the calling thread's CPU time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkSearch100k(b *testing.B) {
	x := bigIndex()
	queries := []string{"web", "redis-cache", "user42", "support", "a", "nothing-matches"}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		x.Search(Query{Text: queries[i%len(queries)], Limit: 25})
	}
}

func FuzzSearch(f *testing.F) {
	x := New()
	for _, n := range []string{"welcome", "a/b", "library/x", "Ünïcode/name"} {
		x.Put(Entry{Name: n, Repo: n, Description: "desc of " + n})
	}
	f.Add("wel", 0, 10)
	f.Add("", 3, 1)
	f.Fuzz(func(t *testing.T, q string, off, lim int) {
		r := x.Search(Query{Text: q, Offset: off % 10, Limit: lim % 50})
		if len(r.Entries) > r.Total {
			t.Fatalf("%d entries of %d", len(r.Entries), r.Total)
		}
	})
}
