package ui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/engine"
)

// The Exec tab's websocket: binary messages are the terminal's bytes both
// ways; the page's text messages are JSON controls ({"type":"resize",
// "cols":C,"rows":R}); the server ends with a text message {"type":"exit",
// "code":N} or {"type":"error","message":M}.

// shell is the command the Exec tab runs, as Docker Desktop's: bash where
// the image has it, else sh.
var shell = []string{"/bin/sh", "-c", "if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; fi"}

type control struct {
	Type string `json:"type"`
	Cols uint16 `json:"cols"`
	Rows uint16 `json:"rows"`
}

// wsWriter sends what the process writes as binary messages.
type wsWriter struct {
	ctx  context.Context
	conn *websocket.Conn
}

func (w wsWriter) Write(p []byte) (int, error) {
	if err := w.conn.Write(w.ctx, websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *Server) execTerminal(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := s.containersHere(ctx); err != nil {
		apiError(w, err)
		return
	}
	// guard has checked the Origin; the library checks it again.
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	sendJSON := func(v any) {
		b, _ := json.Marshal(v)
		_ = conn.Write(ctx, websocket.MessageText, b)
	}

	stdin, stdinW := io.Pipe()
	sess, err := s.e.Exec(ctx, r.PathValue("id"), engine.ExecOptions{Cmd: shell, Tty: true},
		engine.Streams{Stdin: stdin, Stdout: wsWriter{ctx, conn}})
	if err != nil {
		sendJSON(map[string]string{"type": "error", "message": err.Error()})
		conn.Close(websocket.StatusNormalClosure, "")
		return
	}
	defer sess.Close()
	if cols, rows := atoi16(r.URL.Query().Get("cols")), atoi16(r.URL.Query().Get("rows")); cols > 0 && rows > 0 {
		_ = sess.Resize(rows, cols)
	}

	// The page's messages: keys to the process, resizes to its terminal.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		defer stdinW.Close()
		for {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageBinary {
				if _, err := stdinW.Write(data); err != nil {
					return
				}
				continue
			}
			var c control
			if json.Unmarshal(data, &c) == nil && c.Type == "resize" && c.Cols > 0 && c.Rows > 0 {
				_ = sess.Resize(c.Rows, c.Cols)
			}
		}
	}()

	select {
	case <-sess.Done():
		code, err := sess.Wait(ctx)
		if err != nil && !errors.Is(err, engine.ErrDetached) {
			sendJSON(map[string]string{"type": "error", "message": err.Error()})
		} else {
			sendJSON(map[string]any{"type": "exit", "code": code})
		}
		conn.Close(websocket.StatusNormalClosure, "")
	case <-closed:
		// The page went away: hang up, as a closed terminal does.
		if sess.Pid > 0 {
			_ = syscall.Kill(sess.Pid, syscall.SIGHUP)
		}
		select {
		case <-sess.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func atoi16(s string) uint16 {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}
