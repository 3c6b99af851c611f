package shim

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	w := newFrameConn(&buf)
	big := bytes.Repeat([]byte("x"), maxFrame+10)
	if err := w.writeJSON(frameRequest, Request{Op: "attach", Stdout: true}); err != nil {
		t.Fatal(err)
	}
	w.write(frameStdout, []byte("hello"))
	w.write(frameStderr, big)
	w.writeUint32(frameExit, 137)

	r := newFrameConn(&buf)
	var req Request
	if err := r.readJSON(frameRequest, &req); err != nil || req.Op != "attach" || !req.Stdout || req.Stdin {
		t.Fatalf("request %+v %v", req, err)
	}
	if k, p, err := r.read(nil); err != nil || k != frameStdout || string(p) != "hello" {
		t.Fatalf("stdout frame %q %q %v", k, p, err)
	}
	// A payload over the frame limit arrives split, whole.
	var got []byte
	for len(got) < len(big) {
		k, p, err := r.read(nil)
		if err != nil || k != frameStderr {
			t.Fatalf("stderr frame %q %v", k, err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("split payload differs")
	}
	k, p, err := r.read(nil)
	if v, _ := uint32Of(p); err != nil || k != frameExit || v != 137 {
		t.Fatalf("exit frame %q %v %v", k, v, err)
	}
	if _, _, err := r.read(nil); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v", err)
	}
}

func TestFrameErrors(t *testing.T) {
	// A header announcing more than a frame may hold is refused.
	r := newFrameConn(bytes.NewBuffer([]byte{'1', 0xff, 0xff, 0xff, 0xff}))
	if _, _, err := r.read(nil); !errors.Is(err, errProtocol) {
		t.Errorf("oversized frame: %v", err)
	}
	// A truncated frame is an error, not a short payload.
	r = newFrameConn(bytes.NewBuffer([]byte{'1', 0, 0, 0, 5, 'a'}))
	if _, _, err := r.read(nil); err == nil {
		t.Error("truncated frame read")
	}
	// The wrong kind where a request is due.
	var b bytes.Buffer
	newFrameConn(&b).write(frameStdin, []byte("{}"))
	if err := newFrameConn(&b).readJSON(frameRequest, &Request{}); !errors.Is(err, errProtocol) {
		t.Errorf("wrong kind: %v", err)
	}
	if _, err := uint32Of([]byte{1, 2}); err == nil {
		t.Error("short uint32 accepted")
	}
}

func FuzzFrames(f *testing.F) {
	var b bytes.Buffer
	newFrameConn(&b).writeJSON(frameRequest, Request{Op: "exec"})
	f.Add(b.Bytes())
	f.Add([]byte{'X', 0, 0, 0, 4, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newFrameConn(bytes.NewBuffer(data))
		for {
			k, p, err := r.read(nil)
			if err != nil {
				return
			}
			if len(p) > maxFrame {
				t.Fatalf("frame %q of %d bytes", k, len(p))
			}
		}
	})
}

func TestDetachKeys(t *testing.T) {
	tests := []struct {
		in, sent string
		detached bool
	}{
		{"abc", "abc", false},
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b", "a\x10b", false},
		{"\x10\x10\x11", "\x10", true},
		{"\x10", "\x10", false}, // a lone first key at EOF is input
	}
	for _, tt := range tests {
		client, server := net.Pipe()
		s := &Session{conn: client, fc: newFrameConn(client), st: Streams{Stdin: strings.NewReader(tt.in), DetachKeys: []byte{0x10, 0x11}}, done: make(chan struct{})}
		sent := make(chan string)
		go func() {
			fc := newFrameConn(server)
			var got []byte
			for {
				k, p, err := fc.read(nil)
				if err != nil || k == frameStdinEOF {
					sent <- string(got)
					return
				}
				got = append(got, p...)
			}
		}()
		s.stdinLoop()
		if !tt.detached {
			s.conn.Close()
		}
		if got := <-sent; got != tt.sent {
			t.Errorf("%q: sent %q, want %q", tt.in, got, tt.sent)
		}
		if s.detached != tt.detached {
			t.Errorf("%q: detached = %v", tt.in, s.detached)
		}
	}
}
