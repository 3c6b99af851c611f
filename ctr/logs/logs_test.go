package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/syncbuf"
)

func entries(t *testing.T, data []byte) []entry {
	t.Helper()
	var out []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestWriterLines(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	fixed := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	w.now = func() time.Time { return fixed }
	out := w.Stream("stdout")
	out.Write([]byte("hi\nhal"))
	out.Write([]byte("f line\n<&>\"\n"))
	out.Write([]byte("no newline"))
	out.Close()
	if got := buf.String(); !strings.HasPrefix(got, `{"log":"hi\n","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}`+"\n") {
		t.Errorf("first entry not in json-file form:\n%s", got)
	}
	es := entries(t, buf.Bytes())
	want := []string{"hi\n", "half line\n", "<&>\"\n", "no newline"}
	if len(es) != len(want) {
		t.Fatalf("%d entries: %+v", len(es), es)
	}
	for i, e := range es {
		if e.Log != want[i] || e.Stream != "stdout" || !e.Time.Equal(fixed) {
			t.Errorf("entry %d = %+v, want %q", i, e, want[i])
		}
	}
}

func TestWriterLongLine(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	s := w.Stream("stderr")
	long := strings.Repeat("x", 40000) + "\n"
	for i := 0; i < len(long); i += 1000 {
		s.Write([]byte(long[i:min(i+1000, len(long))]))
	}
	s.Close()
	es := entries(t, buf.Bytes())
	var joined string
	for _, e := range es {
		if len(e.Log) > maxLine {
			t.Errorf("entry of %d bytes", len(e.Log))
		}
		joined += e.Log
	}
	if joined != long || len(es) != 3 {
		t.Errorf("%d entries joining to %d bytes", len(es), len(joined))
	}
}

func TestWriterConcurrentStreams(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	for _, name := range []string{"stdout", "stderr"} {
		wg.Go(func() {
			s := w.Stream(name)
			for i := range 200 {
				fmt.Fprintf(s, "%s %d\n", name, i)
			}
		})
	}
	wg.Wait()
	es := entries(t, buf.Bytes())
	if len(es) != 400 {
		t.Fatalf("%d entries", len(es))
	}
	for _, e := range es {
		if !strings.HasPrefix(e.Log, e.Stream+" ") {
			t.Fatalf("interleaved: %+v", e)
		}
	}
}

func writeLog(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "container.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	w.now = func() time.Time { n++; return base.Add(time.Duration(n) * time.Second) }
	for _, l := range lines {
		stream, text, _ := strings.Cut(l, ":")
		w.Stream(stream).Write([]byte(text + "\n"))
	}
	return path
}

func TestRead(t *testing.T) {
	path := writeLog(t, "stdout:one", "stderr:two", "stdout:three", "stdout:four")
	tests := []struct {
		opts           ReadOptions
		stdout, stderr string
	}{
		{ReadOptions{Tail: -1}, "one\nthree\nfour\n", "two\n"},
		{ReadOptions{Tail: 2}, "three\nfour\n", ""},
		{ReadOptions{Tail: 3}, "three\nfour\n", "two\n"},
		{ReadOptions{Tail: 0}, "", ""},
		{ReadOptions{Tail: 100}, "one\nthree\nfour\n", "two\n"},
		{ReadOptions{Tail: 1, Timestamps: true}, "2024-01-01T00:00:04.000000000Z four\n", ""},
		{ReadOptions{Tail: -1, Since: time.Date(2024, 1, 1, 0, 0, 3, 0, time.UTC)}, "three\nfour\n", ""},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if err := Read(context.Background(), path, tt.opts, &out, &errb, nil); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.stdout || errb.String() != tt.stderr {
			t.Errorf("%+v: stdout %q stderr %q, want %q %q", tt.opts, out.String(), errb.String(), tt.stdout, tt.stderr)
		}
	}
	var out bytes.Buffer
	if err := Read(context.Background(), filepath.Join(t.TempDir(), "none.log"), ReadOptions{Tail: -1}, &out, &out, nil); err != nil || out.Len() != 0 {
		t.Errorf("missing log: %q %v", out.String(), err)
	}
}

func TestFollow(t *testing.T) {
	path := writeLog(t, "stdout:before")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(f)
	var running atomic.Bool
	running.Store(true)
	var out syncbuf.Buffer
	done := make(chan error)
	go func() {
		done <- Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true}, &out, &out, running.Load)
	}()
	s := w.Stream("stdout")
	for i := range 5 {
		fmt.Fprintf(s, "line %d\n", i)
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "line 4") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The last words before the container stops are not lost.
	fmt.Fprintf(s, "last\n")
	running.Store(false)
	f.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when the container stopped")
	}
	if want := "before\nline 0\nline 1\nline 2\nline 3\nline 4\nlast\n"; out.String() != want {
		t.Errorf("followed %q, want %q", out.String(), want)
	}

	// Cancelling ends a follow of a running container.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	if err := Read(ctx, path, ReadOptions{Tail: 0, Follow: true}, &out, &out, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("cancel took too long")
	}
}
