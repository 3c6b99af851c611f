package ctr

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// Exit codes berth records when the container's own code is unknown.
const (
	// exitKilled: berth killed a container whose shim had died.
	exitKilled = 137
	// exitUnknown: the container ended unobserved (its shim died, the host
	// rebooted), as Docker reports such a container.
	exitUnknown = 255
)

// processStart returns a process's start time (clock ticks after boot) and
// whether it is alive (not a zombie).
func processStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces and parentheses: fields count from
	// the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false
	}
	return start, f[0] != "Z" && f[0] != "X"
}

// shimAlive reports whether the container's supervisor still runs.
func (m *Manager) shimAlive(s *ShimProcess) bool {
	if s == nil || s.BootID != m.bootID {
		return false
	}
	start, alive := processStart(s.Pid)
	return alive && start == s.StartTime
}

// reconcile brings the record of a container whose shim has gone (killed,
// or the host rebooted) up to date: the container, if it still runs
// unsupervised, is killed, its mounts, namespace and address are released,
// and it shows as exited. For a container that went away (removed
// meanwhile, or an --rm container it removed) it returns errGone.
func (m *Manager) reconcile(ctx context.Context, c *Container) (*Container, error) {
	if !c.State.Running || m.shimAlive(c.State.Shim) {
		return c, nil
	}
	unlock, err := m.lock(c.ID)
	if errdefs.IsNotFound(err) {
		return nil, errGone
	}
	if err != nil {
		return nil, err
	}
	c, err = m.load(c.ID)
	if err != nil {
		unlock()
		if errdefs.IsNotFound(err) {
			return nil, errGone
		}
		return nil, err
	}
	if !c.State.Running || m.shimAlive(c.State.Shim) {
		unlock()
		return c, nil
	}
	code := exitUnknown
	if st, err := m.runc.State(ctx, c.ID); err == nil && st != nil && (st.Status == "running" || st.Status == "created" || st.Status == "paused") {
		code = exitKilled
	}
	slog.Debug("container's shim is gone; cleaning up", "id", c.ID, "exit", code)
	if err := m.teardown(ctx, c); err != nil {
		unlock()
		return nil, fmt.Errorf("clean up container %s: %w", c.ShortID(), err)
	}
	c.State = State{Status: StatusExited, ExitCode: code, StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC(),
		Error: "the container's supervisor exited unexpectedly"}
	err = m.save(c)
	unlock()
	if err != nil {
		return nil, err
	}
	if c.HostConfig.AutoRemove {
		// Not waiting for the volume lock: the listing that found the
		// container may be a volume command's, which holds it.
		if err := m.remove(ctx, c.ID, removeVolumesIfFree); err != nil && !errdefs.IsNotFound(err) {
			return nil, err
		}
		return nil, errGone
	}
	return c, nil
}

// errGone is reconcile's answer for a container that is no longer there.
// It is NotFound; Get words it for the ref it was asked (see Get), List
// leaves the container out, and settle has nothing left to do.
var errGone = errdefs.Newf(errdefs.ErrNotFound, "container removed")
