// Package logs keeps a container's output as Docker's json-file driver does:
// one JSON object per line, {"log":"hi\n","stream":"stdout","time":"..."},
// each holding one line of output (or a 16 KiB piece of a longer one), and
// reads it back for `logs [-f] [--tail N] [-t]`.
package logs

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// maxLine is the longest piece one entry holds, as Docker's.
const maxLine = 16 * 1024

// Writer appends entries to a log; its streams may be written concurrently.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	now func() time.Time
}

// NewWriter writes entries to w, typically the log file opened for append.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, now: time.Now}
}

type entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

func (w *Writer) write(stream string, line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = w.buf[:0]
	w.buf = append(w.buf, `{"log":`...)
	s, err := json.Marshal(string(line))
	if err != nil {
		return err
	}
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, `,"stream":"`...)
	w.buf = append(w.buf, stream...)
	w.buf = append(w.buf, `","time":"`...)
	w.buf = w.now().UTC().AppendFormat(w.buf, time.RFC3339Nano)
	w.buf = append(w.buf, "\"}\n"...)
	// One write per entry, so a reader never sees two entries interleaved.
	_, err = w.w.Write(w.buf)
	return err
}

// Stream returns a writer for one stream ("stdout" or "stderr") that cuts
// what it is given into lines. Close flushes an unfinished last line.
func (w *Writer) Stream(name string) io.WriteCloser {
	return &stream{w: w, name: name}
}

type stream struct {
	w       *Writer
	name    string
	pending []byte
}

func (s *stream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.pending = append(s.pending, p...)
			for len(s.pending) >= maxLine {
				if err := s.w.write(s.name, s.pending[:maxLine]); err != nil {
					return 0, err
				}
				s.pending = append(s.pending[:0], s.pending[maxLine:]...)
			}
			break
		}
		line := p[:i+1]
		if len(s.pending) > 0 {
			line = append(s.pending, line...)
			s.pending = s.pending[:0]
		}
		for len(line) > maxLine {
			if err := s.w.write(s.name, line[:maxLine]); err != nil {
				return 0, err
			}
			line = line[maxLine:]
		}
		if err := s.w.write(s.name, line); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

func (s *stream) Close() error {
	if len(s.pending) == 0 {
		return nil
	}
	err := s.w.write(s.name, s.pending)
	s.pending = nil
	return err
}
