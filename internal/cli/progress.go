package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	units "github.com/docker/go-units"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
)

// progressView draws per-item progress as Docker's CLI does: on a terminal
// one line per item, redrawn in place with a bar; otherwise a plain line
// each time an item's status changes.
type progressView struct {
	out    io.Writer
	tty    bool
	width  int
	mu     sync.Mutex
	order  []string
	lines  map[string]string
	status map[string]string
}

func newProgressView(out io.Writer) *progressView {
	p := &progressView{out: out, lines: map[string]string{}, status: map[string]string{}}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.width = 80
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			p.width = w
		}
	}
	return p
}

// update is an engine.ProgressFunc.
func (p *progressView) update(ev engine.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.ID == "" {
		fmt.Fprintln(p.out, ev.Status)
		if p.tty {
			p.order = nil // lines above are history now
		}
		return
	}
	if !p.tty {
		if p.status[ev.ID] != ev.Status {
			p.status[ev.ID] = ev.Status
			fmt.Fprintf(p.out, "%s: %s\n", ev.ID, ev.Status)
		}
		return
	}
	line := fmt.Sprintf("%s: %s %s", ev.ID, ev.Status, p.bar(ev))
	idx := -1
	for i, id := range p.order {
		if id == ev.ID {
			idx = i
		}
	}
	if idx < 0 {
		p.order = append(p.order, ev.ID)
		p.lines[ev.ID] = line
		fmt.Fprintf(p.out, "%s\n", line)
		return
	}
	if p.lines[ev.ID] == line {
		return
	}
	p.lines[ev.ID] = line
	up := len(p.order) - idx
	fmt.Fprintf(p.out, "\033[%dA\033[2K\r%s\r\033[%dB", up, line, up)
}

// bar is Docker's progress bar: 50 characters, and sizes.
func (p *progressView) bar(ev engine.Progress) string {
	if ev.Current <= 0 && ev.Total <= 0 {
		return ""
	}
	if ev.Total <= 0 {
		return fmt.Sprintf("%8v", units.HumanSize(float64(ev.Current)))
	}
	pct := min(int(float64(ev.Current)/float64(ev.Total)*100)/2, 50)
	box := ""
	if p.width > 110 {
		box = fmt.Sprintf("[%s>%s] ", strings.Repeat("=", pct), strings.Repeat(" ", 50-pct))
	}
	if ev.Current > ev.Total {
		return box + fmt.Sprintf("%8v", units.HumanSize(float64(ev.Current)))
	}
	return box + fmt.Sprintf("%8v/%v", units.HumanSize(float64(ev.Current)), units.HumanSize(float64(ev.Total)))
}
