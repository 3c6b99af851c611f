package shim

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The shim and its clients speak in frames over a unix stream socket: a
// kind byte, a big-endian 32-bit length and the payload. A connection opens
// with a request frame and, for attach and exec, carries the streams after
// the response until an exit frame ends it.
const (
	frameRequest  byte = 'Q' // JSON request, client to shim, first frame
	frameResponse byte = 'R' // JSON response
	frameStdin    byte = '0'
	frameStdout   byte = '1'
	frameStderr   byte = '2'
	frameStdinEOF byte = 'E' // the client's stdin ended
	frameResize   byte = 'W' // 4 bytes: height, width
	frameSignal   byte = 'S' // 4 bytes: signal number
	frameExit     byte = 'X' // 4 bytes: exit code, last frame
)

// maxFrame bounds a frame's payload; larger writes are split.
const maxFrame = 1 << 20

// frameConn reads and writes frames; writes are serialised.
type frameConn struct {
	rw  io.ReadWriter
	wmu sync.Mutex
	hdr [5]byte
}

func newFrameConn(rw io.ReadWriter) *frameConn { return &frameConn{rw: rw} }

func (c *frameConn) write(kind byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		n := min(len(payload), maxFrame)
		var hdr [5]byte
		hdr[0] = kind
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, err := c.rw.Write(append(hdr[:], payload[:n]...)); err != nil {
			return err
		}
		payload = payload[n:]
		if len(payload) == 0 {
			return nil
		}
	}
}

func (c *frameConn) writeJSON(kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.write(kind, b)
}

func (c *frameConn) writeUint32(kind byte, v uint32) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return c.write(kind, b[:])
}

// read returns the next frame; the payload is valid until the next read.
func (c *frameConn) read(buf []byte) (byte, []byte, error) {
	if _, err := io.ReadFull(c.rw, c.hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(c.hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes: %w", n, errProtocol)
	}
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(c.rw, buf); err != nil {
		return 0, nil, err
	}
	return c.hdr[0], buf, nil
}

func (c *frameConn) readJSON(kind byte, v any) error {
	k, b, err := c.read(nil)
	if err != nil {
		return err
	}
	if k != kind {
		return fmt.Errorf("frame %q where %q was due: %w", k, kind, errProtocol)
	}
	return json.Unmarshal(b, v)
}

var errProtocol = errors.New("shim protocol error")

func uint32Of(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, errProtocol
	}
	return binary.BigEndian.Uint32(b), nil
}
