// Package crashpoint names the moments between the steps of a change to
// the container store (a create, a start, a removal) where a berth killed
// by SIGKILL leaves something half done. Tests kill berth at each one to
// prove that what is left is either reaped or whole, never broken.
//
// In the berth command the points do nothing, unless it was built with
// the berth_crashpoints tag (tests build it so); then $BERTH_CRASH_AT
// names the point where berth kills itself.
package crashpoint

import (
	"os"
	"syscall"
)

// hook runs at every point; nil (the berth command's case) does nothing.
// It is set before any goroutine starts (at init or at the start of a
// test process) and only read afterwards.
var hook func(name string)

// Hit marks point name.
func Hit(name string) {
	if hook != nil {
		hook(name)
	}
}

// Set makes f run at every point (nil: nothing does). Call it before the
// process starts any goroutine that may reach a point.
func Set(f func(name string)) { hook = f }

// KillAt makes the process kill itself with SIGKILL at point name: no
// deferred cleanup runs, as when a user or the OOM killer kills berth.
// Call it as Set.
func KillAt(name string) {
	if name == "" {
		Set(nil)
		return
	}
	Set(func(n string) {
		if n == name {
			Kill()
		}
	})
}

// Kill kills this process with SIGKILL and never returns.
func Kill() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is delivered before kill returns; never go on
}

// Env is the variable that names the point in a binary built with the
// berth_crashpoints tag.
const Env = "BERTH_CRASH_AT"
