package shim

import (
	"io"
	"os"
	"sync"
	"time"
)

// output fans a process's stdout and stderr out to the log and to the
// attached clients. It starts closed: what arrives before runc reports
// success is held back, because on failure it is runc's own error message,
// written to the process's stderr, not the container's output.
type output struct {
	mu        sync.Mutex
	open      bool
	discarded bool
	pending   []chunk
	log       map[byte]io.Writer // by frame kind; nil for exec
	attachers map[*attacher]struct{}
	copiers   sync.WaitGroup
}

type chunk struct {
	kind byte
	data []byte
}

// attacher is a client taking some of the streams.
type attacher struct {
	fc             *frameConn
	stdout, stderr bool
}

func newOutput(log map[byte]io.Writer) *output {
	return &output{log: log, attachers: map[*attacher]struct{}{}}
}

func (o *output) add(a *attacher) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attachers[a] = struct{}{}
}

func (o *output) remove(a *attacher) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.attachers, a)
}

// start opens the gate: held output goes out, then the rest as it comes.
func (o *output) start() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.open = true
	for _, c := range o.pending {
		o.emit(c.kind, c.data)
	}
	o.pending = nil
}

// discard drops held and further output.
func (o *output) discard() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.discarded = true
	o.pending = nil
}

func (o *output) write(kind byte, p []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.discarded:
	case !o.open:
		o.pending = append(o.pending, chunk{kind, append([]byte(nil), p...)})
	default:
		o.emit(kind, p)
	}
}

func (o *output) emit(kind byte, p []byte) {
	if w := o.log[kind]; w != nil {
		_, _ = w.Write(p)
	}
	for a := range o.attachers {
		if (kind == frameStdout && !a.stdout) || (kind == frameStderr && !a.stderr) {
			continue
		}
		if err := a.fc.write(kind, p); err != nil {
			delete(o.attachers, a)
		}
	}
}

// copy reads r until it ends (EOF, or EIO from a pty whose last user left)
// and passes what it reads on as kind.
func (o *output) copy(kind byte, r *os.File) {
	o.copiers.Add(1)
	go func() {
		defer o.copiers.Done()
		defer r.Close()
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				o.write(kind, buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
}

// drain waits for the copiers to reach the end of their streams, at most
// grace: a process the container left behind may hold a stream open.
func (o *output) drain(grace time.Duration) {
	done := make(chan struct{})
	go func() { o.copiers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
}

// exit sends the exit code to every attacher and forgets them.
func (o *output) exit(code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for a := range o.attachers {
		_ = a.fc.writeUint32(frameExit, uint32(code))
		delete(o.attachers, a)
	}
}
