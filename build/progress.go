package build

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress prints BuildKit's plain progress: "#N [stage k/n] INSTR", the
// step's output lines as "#N 0.123 line", then "#N CACHED" or
// "#N DONE 0.3s".
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	n     int
	start time.Time
}

func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

func (p *progress) step(title string) {
	p.n++
	p.start = time.Now()
	p.printf("#%d %s\n", p.n, title)
}

func (p *progress) cached() { p.printf("#%d CACHED\n", p.n) }

func (p *progress) done(d time.Duration) { p.printf("#%d DONE %.1fs\n", p.n, d.Seconds()) }

// output is a writer for the running step's output: each line is printed
// with the step's number and the time since it began.
func (p *progress) output() io.WriteCloser {
	pr, pw := io.Pipe()
	n, start := p.n, p.start
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.printf("#%d %.3f %s\n", n, time.Since(start).Seconds(), strings.TrimRight(sc.Text(), "\r"))
		}
		pr.CloseWithError(sc.Err())
	}()
	return &stepOutput{PipeWriter: pw, done: done}
}

// stepOutput is a step's output; Close waits for its last line.
type stepOutput struct {
	*io.PipeWriter
	done chan struct{}
}

func (o *stepOutput) Close() error {
	err := o.PipeWriter.Close()
	<-o.done
	return err
}
