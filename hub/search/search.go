// Package search is the hub's repository search: an in-memory index over
// every repository's name and description, ranked as people expect from a
// hub: exact name, then name prefix, then name substring, then description;
// official images before others; then stars.
//
// Names and descriptions sit lowercased in two contiguous buffers, so a
// query is a few SIMD substring scans over a few megabytes rather than a
// walk over 100,000 structs; a heap keeps only the best page, and a packed
// sort key rejects most candidates with one comparison. Changes that keep
// a repository's name and description (stars, pulls, pushes) update it in
// place; others append it anew and leave a tombstone, and the buffers are
// rebuilt when tombstones pile up.
package search

import (
	"bytes"
	"container/heap"
	"strings"
	"sync"
	"time"
)

// Entry is one repository as search sees it.
type Entry struct {
	Name        string // as listed: "welcome" for "library/welcome"
	Repo        string // canonical name
	Namespace   string
	Description string
	Badge       string
	Stars       int64
	Pulls       int64
	Private     bool
	LastPushed  time.Time
}

// Official reports whether the entry carries the official badge.
func (e Entry) Official() bool { return e.Badge == "official" }

type item struct {
	Entry
	lname, lshort string
	dead          bool
}

// hot is what a scan reads for every candidate, kept apart from the items
// so that a query matching most repositories streams 16 bytes per
// repository instead of a whole entry.
type hot struct {
	stars int64
	flags uint8
}

const (
	hotDead uint8 = 1 << iota
	hotPrivate
	hotOfficial
)

func hotOf(e Entry) hot {
	h := hot{stars: e.Stars}
	if e.Private {
		h.flags |= hotPrivate
	}
	if e.Official() {
		h.flags |= hotOfficial
	}
	return h
}

// Index is safe for concurrent use.
type Index struct {
	mu       sync.RWMutex
	items    []item
	hot      []hot
	pos      map[string]int // Name -> live item
	names    []byte         // "\x00" + lowercased name of every item, in item order
	nameOff  []int          // where each item's name starts in names
	shortOff []int          // where its last path component starts
	descs    []byte
	descOff  []int
	dead     int
}

// New returns an empty index.
func New() *Index { return &Index{pos: map[string]int{}} }

// clean keeps the separator out of the text searched.
func clean(s string) string { return strings.ReplaceAll(strings.ToLower(s), "\x00", "") }

// Put adds or replaces an entry, keyed by Name.
func (x *Index) Put(e Entry) {
	lname, ldesc := clean(e.Name), clean(e.Description)
	x.mu.Lock()
	defer x.mu.Unlock()
	if i, ok := x.pos[e.Name]; ok {
		old := &x.items[i]
		if old.lname == lname && x.desc(i) == ldesc {
			old.Entry = e
			x.hot[i] = hotOf(e)
			return
		}
		old.dead = true
		x.hot[i].flags |= hotDead
		x.dead++
		delete(x.pos, e.Name)
	}
	x.appendItem(e, lname, ldesc)
	if x.dead > 1024 && x.dead > len(x.items)/4 {
		x.rebuild()
	}
}

func (x *Index) appendItem(e Entry, lname, ldesc string) {
	it := item{Entry: e, lname: lname, lshort: lname}
	if i := strings.LastIndexByte(lname, '/'); i >= 0 {
		it.lshort = lname[i+1:]
	}
	x.pos[e.Name] = len(x.items)
	x.items = append(x.items, it)
	x.hot = append(x.hot, hotOf(e))
	x.names = append(x.names, 0)
	x.nameOff = append(x.nameOff, len(x.names))
	x.shortOff = append(x.shortOff, len(x.names)+len(lname)-len(it.lshort))
	x.names = append(x.names, lname...)
	x.descs = append(x.descs, 0)
	x.descOff = append(x.descOff, len(x.descs))
	x.descs = append(x.descs, ldesc...)
}

// desc is item i's lowercased description, from the buffer.
func (x *Index) desc(i int) string {
	end := len(x.descs)
	if i+1 < len(x.descOff) {
		end = x.descOff[i+1] - 1
	}
	return string(x.descs[x.descOff[i]:end])
}

// rebuild drops tombstones.
func (x *Index) rebuild() {
	old := x.items
	descs := make([]string, len(old))
	for i := range old {
		descs[i] = x.desc(i)
	}
	x.items, x.hot, x.names, x.nameOff, x.shortOff, x.descs, x.descOff, x.dead = nil, nil, nil, nil, nil, nil, nil, 0
	x.pos = make(map[string]int, len(old))
	for i, it := range old {
		if !it.dead {
			x.appendItem(it.Entry, it.lname, descs[i])
		}
	}
}

// Remove drops an entry by Name.
func (x *Index) Remove(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	i, ok := x.pos[name]
	if !ok {
		return
	}
	x.items[i].dead = true
	x.hot[i].flags |= hotDead
	x.dead++
	delete(x.pos, name)
}

// Len is the number of entries.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.pos)
}

// Query is a search.
type Query struct {
	Text     string
	Badge    string // only entries with this badge; "" for any
	MinStars int64
	// Sort is "" (relevance), "stars", "pulls", "updated" or "name".
	Sort   string
	Offset int
	Limit  int
	// Visible decides whether the asker may see a private entry; nil shows
	// public entries only.
	Visible func(Entry) bool
}

// Result is a page of entries and how many matched in all.
type Result struct {
	Entries []Entry
	Total   int
}

const (
	tierExact = iota
	tierPrefix
	tierSubstring
	tierDescription
)

// nameTier ranks a name match from the buffer alone: the first match at
// the start of the name is a prefix, and a prefix as long as the name (or
// its last component) is the name.
func (x *Index) nameTier(i, at int, q string) int {
	start, short := x.nameOff[i], x.shortOff[i]
	end := len(x.names)
	if i+1 < len(x.nameOff) {
		end = x.nameOff[i+1] - 1
	}
	shortPrefix := end-short >= len(q) && string(x.names[short:short+len(q)]) == q
	switch {
	case at == start && end-start == len(q), shortPrefix && end-short == len(q):
		return tierExact
	case at == start, shortPrefix:
		return tierPrefix
	}
	return tierSubstring
}

// Search runs a query.
func (x *Index) Search(q Query) Result {
	text := clean(strings.TrimSpace(q.Text))
	if q.Limit <= 0 {
		q.Limit = 25
	}
	q.Offset = max(q.Offset, 0)
	r := ranker{keep: q.Offset + q.Limit, sort: q.Sort}
	x.mu.RLock()
	defer x.mu.RUnlock()
	consider := func(i, tier int) {
		h := &x.hot[i]
		if h.flags&hotDead != 0 || h.stars < q.MinStars {
			return
		}
		if q.Badge != "" && x.items[i].Badge != q.Badge {
			return
		}
		if h.flags&hotPrivate != 0 && (q.Visible == nil || !q.Visible(x.items[i].Entry)) {
			return
		}
		r.add(x.items, i, h, tier)
	}
	if text == "" {
		for i := range x.items {
			consider(i, tierExact)
		}
	} else {
		matched := make([]bool, len(x.items))
		scan(x.names, x.nameOff, text, func(i, at int) {
			matched[i] = true
			consider(i, x.nameTier(i, at, text))
		})
		scan(x.descs, x.descOff, text, func(i, _ int) {
			if !matched[i] {
				consider(i, tierDescription)
			}
		})
	}
	out := make([]*item, r.h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&r.h).(cand).it
	}
	page := make([]Entry, 0, q.Limit)
	for i := q.Offset; i < len(out); i++ {
		page = append(page, out[i].Entry)
	}
	return Result{Entries: page, Total: r.total}
}

// scan calls fn once for each item whose text in buf contains q. Matches
// come in buffer order, so the item holding a match is found by walking
// forward from the last one.
func scan(buf []byte, off []int, q string, fn func(i, at int)) {
	needle := []byte(q)
	i, p := 0, 0
	for p < len(buf) {
		j := bytes.Index(buf[p:], needle)
		if j < 0 {
			return
		}
		at := p + j
		for i+1 < len(off) && off[i+1] <= at {
			i++
		}
		fn(i, at)
		if i+1 >= len(off) {
			return
		}
		i++
		p = off[i]
	}
}

type cand struct {
	it  *item
	key uint64
}

// ranker keeps the best candidates in a heap whose root is the worst kept.
type ranker struct {
	h     candHeap
	keep  int
	total int
	sort  string
}

const maxCount = 1<<40 - 1

func inv(n int64) uint64 { return maxCount - uint64(min(max(n, 0), maxCount)) }

// key packs a candidate's order: smaller is better.
func (r *ranker) key(items []item, i int, h *hot, tier int) uint64 {
	rel := uint64(tier) << 1
	if h.flags&hotOfficial == 0 {
		rel |= 1
	}
	switch r.sort {
	case "stars":
		return inv(h.stars)<<3 | rel
	case "pulls":
		return inv(items[i].Pulls)<<3 | rel
	case "updated":
		return inv(items[i].LastPushed.Unix())<<3 | rel
	case "name":
		return 0
	}
	return rel<<40 | inv(h.stars)
}

func (r *ranker) add(items []item, i int, h *hot, tier int) {
	r.total++
	key := r.key(items, i, h, tier)
	if r.h.Len() < r.keep {
		heap.Push(&r.h, cand{it: &items[i], key: key})
		return
	}
	// Most candidates lose to the worst kept one on the key alone, without
	// touching the entry.
	if root := r.h[0]; key > root.key || key == root.key && items[i].Name >= root.it.Name {
		return
	}
	r.h[0] = cand{it: &items[i], key: key}
	heap.Fix(&r.h, 0)
}

func better(a, b cand) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.it.Name < b.it.Name
}

type candHeap []cand

func (h candHeap) Len() int           { return len(h) }
func (h candHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h candHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)        { *h = append(*h, x.(cand)) }
func (h *candHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
