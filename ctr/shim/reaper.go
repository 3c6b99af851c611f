package shim

import (
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// reaper waits for every child of the shim. The shim is a child subreaper,
// so the container's first process, started by runc which then exits,
// becomes its child, as do the processes of `runc exec --detach`. One loop
// reaps them all and hands each status to whoever waits for that pid, even
// one who asks after the fact.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan int
	early   map[int]int
}

// exitCode turns a wait status into a shell-style exit code.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func newReaper() *reaper {
	r := &reaper{waiters: map[int]chan int{}, early: map[int]int{}}
	sigc := make(chan os.Signal, 32)
	signal.Notify(sigc, unix.SIGCHLD)
	go func() {
		for range sigc {
			r.reap()
		}
	}()
	return r
}

func (r *reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		r.mu.Lock()
		if c, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			c <- exitCode(ws)
		} else {
			r.early[pid] = exitCode(ws)
		}
		r.mu.Unlock()
	}
}

// wait returns a channel that receives pid's exit code.
func (r *reaper) wait(pid int) <-chan int {
	c := make(chan int, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if code, ok := r.early[pid]; ok {
		delete(r.early, pid)
		c <- code
		return c
	}
	r.waiters[pid] = c
	return c
}

// reaped reports whether pid's status was collected and is still unclaimed.
func (r *reaper) reaped(pid int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.early[pid]
	return ok
}
