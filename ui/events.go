package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// events writes server-sent events: one JSON object per event, flushed at
// once. It is safe for concurrent use (engine progress arrives from many
// goroutines).
type events struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func newEvents(w http.ResponseWriter) *events {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	ev := &events{w: w, rc: http.NewResponseController(w)}
	_ = ev.rc.Flush()
	return ev
}

// send writes one event; after a failed write (the page went away) it
// does nothing and reports the failure.
func (e *events) send(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	if _, e.err = fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", name, b); e.err == nil {
		e.err = e.rc.Flush()
	}
	return e.err
}
