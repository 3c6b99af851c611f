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
// "#N DONE 0.3s". On a terminal (tty) a step's output is a window of its
// last lines, redrawn in place and wiped when the step ends, as BuildKit's
// view keeps only the running step's tail.
type progress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	n     int
	start time.Time
	tail  []string // the window's lines on a terminal
	drawn int      // how many lines of it are on the screen
}

// ttyTail is how many of the running step's last lines a terminal shows.
const ttyTail = 6

func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wipe()
	fmt.Fprintf(p.w, format, args...)
}

// wipe clears the tail window from the screen (mu held).
func (p *progress) wipe() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
		p.drawn = 0
	}
}

func (p *progress) step(title string) {
	p.n++
	p.start = time.Now()
	p.tail = nil
	p.printf("#%d %s\n", p.n, title)
}

func (p *progress) cached() { p.printf("#%d CACHED\n", p.n) }

func (p *progress) done(d time.Duration) { p.printf("#%d DONE %.1fs\n", p.n, d.Seconds()) }

// line shows one line of the running step's output.
func (p *progress) line(n int, start time.Time, text string) {
	text = strings.TrimRight(text, "\r")
	if !p.tty {
		p.printf("#%d %.3f %s\n", n, time.Since(start).Seconds(), text)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wipe()
	p.tail = append(p.tail, text)
	if len(p.tail) > ttyTail {
		p.tail = p.tail[len(p.tail)-ttyTail:]
	}
	for _, l := range p.tail {
		fmt.Fprintf(p.w, "\x1b[2m#%d %s\x1b[0m\n", n, l)
	}
	p.drawn = len(p.tail)
}

// output is a writer for the running step's output, line by line.
func (p *progress) output() io.WriteCloser {
	pr, pw := io.Pipe()
	n, start := p.n, p.start
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if p.w != nil {
				p.line(n, start, sc.Text())
			}
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
