// Package idle cuts request bodies that stop moving. Go's http.Server has
// a timeout for headers and one for the whole request, but none for a body
// that trickles: a whole-request deadline would cut a large upload on a
// slow link, and without one a client sending a byte a second holds a
// connection and a handler for as long as it likes.
package idle

import (
	"io"
	"net/http"
	"time"
)

// MinProgress is how many bytes a body must send within each timeout
// period to keep going: a byte a second is not moving, a slow link is.
const MinProgress = 4 << 10

// Body sets r's connection a read deadline of timeout from now and returns
// r's body with that deadline renewed each time MinProgress more bytes have
// arrived, so a body smaller than MinProgress must arrive whole within
// timeout. The deadline is lifted once the body is read to its end; if the
// handler leaves it unread, the server's reading of the rest is cut by it
// too. A request without a body, or a connection that takes no deadlines
// (an in-process test's), is left as it is.
func Body(w http.ResponseWriter, r *http.Request, timeout time.Duration) io.ReadCloser {
	if timeout <= 0 || r.Body == nil || r.Body == http.NoBody {
		return r.Body
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return r.Body
	}
	return &body{ReadCloser: r.Body, rc: rc, timeout: timeout}
}

type body struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	since   int // bytes since the deadline was last set
	done    bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.since += n
	switch {
	case err == io.EOF && !b.done:
		// At the end the connection is the server's again: it sets its
		// own deadline for the next request's headers. After a failure
		// the deadline stays, so the server's reading of the rest (to
		// keep the connection) is cut too.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case b.since >= MinProgress:
		b.since = 0
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	return n, err
}
