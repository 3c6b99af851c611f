package ui

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

// searchResult is one repository the hub found.
type searchResult struct {
	Name string `json:"name"`
	// Ref is what Pull asks for: the name, with the hub's host when the
	// search named another hub (HOST/TERM).
	Ref         string `json:"ref"`
	Description string `json:"description"`
	Stars       int    `json:"stars"`
	Official    bool   `json:"official"`
	Badge       string `json:"badge"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		writeJSON(w, http.StatusOK, map[string]any{"hub": s.e.DefaultHub(), "results": []searchResult{}})
		return
	}
	found, err := s.e.Search(r.Context(), q, engine.SearchOptions{Registry: s.reg, Limit: 25})
	if err != nil {
		apiError(w, err)
		return
	}
	prefix := ""
	if first, _, ok := strings.Cut(q, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		prefix = first + "/"
	}
	out := make([]searchResult, 0, len(found))
	for _, f := range found {
		out = append(out, searchResult{Name: f.Name, Ref: prefix + f.Name, Description: f.Description, Stars: f.Stars, Official: f.Official, Badge: f.Badge})
	}
	writeJSON(w, http.StatusOK, map[string]any{"hub": s.e.DefaultHub(), "results": out})
}

// A pull runs in the server's context, not the request's: it goes on when
// the page that started it is closed, and any page may follow it. What it
// keeps is the latest state of each layer and the messages about the
// whole, so a pull of any size holds a bounded record.
type pull struct {
	id, ref string

	mu       sync.Mutex
	seq      int
	order    []string
	layers   map[string]*layerState
	messages []string
	done     bool
	errMsg   string
	result   map[string]any
	changed  chan struct{} // closed and replaced on every change
}

type layerState struct {
	engine.Progress
	seq int
}

func (p *pull) update(fn func()) {
	p.mu.Lock()
	fn()
	p.seq++
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *pull) progress(ev engine.Progress) {
	p.update(func() {
		if ev.ID == "" {
			p.messages = append(p.messages, ev.Status)
			return
		}
		if strings.HasPrefix(ev.Status, "Pulling from ") {
			// Docker's "latest: Pulling from library/welcome" is about
			// the whole pull, not a layer.
			p.messages = append(p.messages, ev.ID+": "+ev.Status)
			return
		}
		l, ok := p.layers[ev.ID]
		if !ok {
			l = &layerState{}
			p.layers[ev.ID] = l
			p.order = append(p.order, ev.ID)
		}
		l.Progress, l.seq = ev, p.seq+1
	})
}

// pulls are the pulls under way and those that ended in the last minutes.
type pulls struct {
	mu   sync.Mutex
	byID map[string]*pull
}

func newPulls() *pulls { return &pulls{byID: map[string]*pull{}} }

func (s *Server) startPull(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Ref string `json:"ref"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if _, err := s.e.ParseReference(body.Ref); err != nil || body.Ref == "" {
		apiError(w, errdefs.Newf(errdefs.ErrInvalid, "invalid reference format: %q", body.Ref))
		return
	}
	s.pulls.mu.Lock()
	defer s.pulls.mu.Unlock()
	for _, p := range s.pulls.byID {
		p.mu.Lock()
		same := p.ref == body.Ref && !p.done
		p.mu.Unlock()
		if same {
			writeJSON(w, http.StatusOK, map[string]string{"id": p.id})
			return
		}
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	p := &pull{id: hex.EncodeToString(b), ref: body.Ref, layers: map[string]*layerState{}, changed: make(chan struct{})}
	s.pulls.byID[p.id] = p
	go s.runPull(p)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": p.id})
}

func (s *Server) runPull(p *pull) {
	res, err := s.e.Pull(s.ctx, p.ref, engine.PullOptions{Registry: s.reg, Progress: p.progress})
	p.update(func() {
		p.done = true
		if err != nil {
			p.errMsg = err.Error()
			return
		}
		p.result = map[string]any{"ref": s.e.Familiar(res.Ref.String()), "id": res.ID.String(), "digest": res.Digest.String()}
	})
	if err != nil {
		s.log.Info("pull failed", "ref", p.ref, "err", err)
	}
	time.AfterFunc(10*time.Minute, func() {
		s.pulls.mu.Lock()
		delete(s.pulls.byID, p.id)
		s.pulls.mu.Unlock()
	})
}

// pullEvents follows a pull as server-sent events: "layer" {id, status,
// current, total} each time a layer changes, "message" {status} about the
// whole, and finally "done" {ref, id, digest} or "error" {error}.
func (s *Server) pullEvents(w http.ResponseWriter, r *http.Request) {
	s.pulls.mu.Lock()
	p := s.pulls.byID[r.PathValue("id")]
	s.pulls.mu.Unlock()
	if p == nil {
		apiError(w, errdefs.Newf(errdefs.ErrNotFound, "no pull %s", r.PathValue("id")))
		return
	}
	ev := newEvents(w)
	sent, sentMsgs := 0, 0
	for {
		p.mu.Lock()
		type layerEvent struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			Current int64  `json:"current"`
			Total   int64  `json:"total"`
		}
		var layers []layerEvent
		for _, id := range p.order {
			if l := p.layers[id]; l.seq > sent {
				layers = append(layers, layerEvent{id, l.Status, l.Current, l.Total})
			}
		}
		msgs := p.messages[sentMsgs:]
		sent, sentMsgs = p.seq, len(p.messages)
		done, errMsg, result, changed := p.done, p.errMsg, p.result, p.changed
		p.mu.Unlock()
		for _, l := range layers {
			if ev.send("layer", l) != nil {
				return
			}
		}
		for _, m := range msgs {
			if ev.send("message", map[string]string{"status": m}) != nil {
				return
			}
		}
		if done {
			if errMsg != "" {
				ev.send("error", map[string]string{"error": errMsg})
			} else {
				ev.send("done", result)
			}
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
		// Transfers report every 256 KiB: a page needs no more than a few
		// frames a second.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
}
