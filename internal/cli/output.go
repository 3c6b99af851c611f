package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// writeOutput runs write into stdout, or into the file path when it is set.
// The file is written beside its target and renamed into place, so a failed
// command leaves no half-written report where a good one was.
func (a *app) writeOutput(path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(a.stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".berth-out-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := write(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// countProgress shows "what: done/total" on a terminal once a task has
// taken longer than a second, redrawn in place, and erases it when the task
// ends. Off a terminal it shows nothing: a script's stderr stays clean.
type countProgress struct {
	out   io.Writer
	what  string
	unit  string
	delay time.Duration // before anything is shown

	mu          sync.Mutex
	done, total int64
	shown       bool
	stop        chan struct{}
	stopped     chan struct{}
}

// newCountProgress starts the display if out is a terminal; update feeds it
// and finish ends it. A nil *countProgress ignores both.
func newCountProgress(out io.Writer, what, unit string) *countProgress {
	if !isTerminal(out) {
		return nil
	}
	return startCountProgress(out, what, unit, time.Second)
}

func startCountProgress(out io.Writer, what, unit string, delay time.Duration) *countProgress {
	p := &countProgress{out: out, what: what, unit: unit, delay: delay, total: -1, stop: make(chan struct{}), stopped: make(chan struct{})}
	go p.loop()
	return p
}

func (p *countProgress) loop() {
	defer close(p.stopped)
	select {
	case <-p.stop:
		return
	case <-time.After(p.delay):
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		p.draw()
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

func (p *countProgress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shown = true
	if p.total >= 0 {
		fmt.Fprintf(p.out, "\r\033[2K%s: %d/%d %s", p.what, p.done, p.total, p.unit)
	} else {
		fmt.Fprintf(p.out, "\r\033[2K%s: %d %s", p.what, p.done, p.unit)
	}
}

// update records progress; total < 0 means unknown.
func (p *countProgress) update(done, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.done, p.total = done, total
	p.mu.Unlock()
}

// layers is an sbom progress callback.
func (p *countProgress) layers(done, total int) { p.update(int64(done), int64(total)) }

// finish stops the display and erases its line.
func (p *countProgress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.out, "\r\033[2K")
	}
}
