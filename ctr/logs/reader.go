package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// TimeFormat is how `logs -t` prints times: RFC 3339 with nine fraction
// digits always.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// ReadOptions select what Read prints.
type ReadOptions struct {
	// Tail is how many of the last entries to print; negative prints all.
	Tail int
	// Follow keeps printing new entries until the container stops.
	Follow bool
	// Timestamps prefixes each entry with its time.
	Timestamps bool
	// Since and Until bound the entries' times when set.
	Since, Until time.Time
}

// Read prints the log at path, stdout entries to stdout and stderr entries
// to stderr. With Follow it waits for more until ctx ends or running
// reports that the container stopped (it is asked after each quiet spell).
func Read(ctx context.Context, path string, opts ReadOptions, stdout, stderr io.Writer, running func() bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // never started
	}
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	var watch int = -1
	if opts.Follow {
		// Watch before reading, so nothing written in between is missed.
		if watch, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK); err != nil {
			return fmt.Errorf("watch log: %w", err)
		}
		defer unix.Close(watch)
		if _, err := unix.InotifyAddWatch(watch, path, unix.IN_MODIFY|unix.IN_CLOSE_WRITE); err != nil {
			return fmt.Errorf("watch log: %w", err)
		}
	}
	if opts.Tail >= 0 {
		if err := seekTail(f, opts.Tail); err != nil {
			return err
		}
	}
	r := bufio.NewReaderSize(f, 64*1024)
	p := printer{opts: opts, stdout: stdout, stderr: stderr}
	var partial []byte
	drain := func() error {
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] == '\n' {
				line = append(partial, line...)
				partial = nil
				if perr := p.print(line); perr != nil {
					return perr
				}
			} else if len(line) > 0 {
				// Caught mid-write: finish it on the next round.
				partial = append(partial, line...)
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read log: %w", err)
			}
		}
	}
	if err := drain(); err != nil || !opts.Follow {
		return err
	}
	for {
		stopped := !running()
		if err := waitChange(ctx, watch, 250*time.Millisecond); err != nil {
			return nil // cancelled: the user stopped following
		}
		if err := drain(); err != nil {
			return err
		}
		if stopped {
			// Drained after seeing it stopped: nothing more can come.
			return nil
		}
	}
}

// waitChange waits for the log to be written to, or timeout.
func waitChange(ctx context.Context, watch int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 4096)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		// Wake at least every 50ms to notice cancellation.
		fds := []unix.PollFd{{Fd: int32(watch), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(left, 50*time.Millisecond)/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if n > 0 {
			for {
				if _, err := unix.Read(watch, buf); err != nil {
					break
				}
			}
			return nil
		}
	}
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) error {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	const chunk = 32 * 1024
	buf := make([]byte, chunk)
	pos := end
	seen := 0
	for pos > 0 {
		size := int64(chunk)
		if pos < size {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil {
			return err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == end-1 {
				continue
			}
			seen++
			if seen == n {
				_, err := f.Seek(pos+i+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

type printer struct {
	opts           ReadOptions
	stdout, stderr io.Writer
	out            []byte
}

func (p *printer) print(line []byte) error {
	var e entry
	if err := json.Unmarshal(bytes.TrimSpace(line), &e); err != nil {
		return nil // a torn entry from a crash: skip it, as Docker does
	}
	if !p.opts.Since.IsZero() && e.Time.Before(p.opts.Since) {
		return nil
	}
	if !p.opts.Until.IsZero() && e.Time.After(p.opts.Until) {
		return nil
	}
	p.out = p.out[:0]
	if p.opts.Timestamps {
		p.out = e.Time.UTC().AppendFormat(p.out, TimeFormat)
		p.out = append(p.out, ' ')
	}
	p.out = append(p.out, e.Log...)
	w := p.stdout
	if e.Stream == "stderr" {
		w = p.stderr
	}
	_, err := w.Write(p.out)
	return err
}
