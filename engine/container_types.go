package engine

import (
	"syscall"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/portproxy"
	"github.com/berth-dev/berth/ctr/volume"
)

// The container data the CLI, the dashboard and what comes above the
// engine read and fill in. They are the runtime's own plain data, aliased
// here so that nothing above the engine imports the runtime: the engine
// is the one way to containers, and keeps its records in step with the
// runtime's only if every change goes through it.
type (
	// Container is a container's record: its config, state and ports.
	Container = ctr.Container
	// ContainerStatus is a container's state as Docker names it.
	ContainerStatus = ctr.Status
	// CreateOptions are run's and create's settings.
	CreateOptions = ctr.CreateOptions
	// ExecOptions are exec's settings.
	ExecOptions = ctr.ExecOptions
	// LogsOptions are logs' settings.
	LogsOptions = ctr.LogsOptions
	// RemoveOptions are rm's settings.
	RemoveOptions = ctr.RemoveOptions
	// Streams are what a session is attached to.
	Streams = ctr.Streams
	// PortMapping is a published port as bound (port, ps).
	PortMapping = portproxy.Mapping
	// PublishedPort is one port to publish, as -p asks.
	PublishedPort = portproxy.Binding
	// Volume is a named or anonymous volume.
	Volume = volume.Volume
	// RuntimeOptions configure the container runtime (Options.Runtime).
	RuntimeOptions = ctr.Options
)

// Container statuses.
const (
	StatusCreated ContainerStatus = ctr.StatusCreated
	StatusRunning ContainerStatus = ctr.StatusRunning
	StatusExited  ContainerStatus = ctr.StatusExited
)

// DefaultDetachKeys are Docker's: ctrl-p, ctrl-q.
var DefaultDetachKeys = ctr.DefaultDetachKeys

// ErrDetached ends a session whose caller detached with the detach keys.
var ErrDetached = ctr.ErrDetached

// ParseDetachKeys reads --detach-keys as Docker does.
func ParseDetachKeys(s string) ([]byte, error) { return ctr.ParseDetachKeys(s) }

// ParseSignal reads a signal as Docker's CLI takes it: "SIGTERM", "TERM",
// "term" or "15".
func ParseSignal(s string) (syscall.Signal, error) { return ctr.ParseSignal(s) }

// ShimMain is a container's supervisor, berth re-executed as "berth shim"
// by every start; main (and tests that start containers) call it first.
func ShimMain(args []string) int { return ctr.ShimMain(args) }

// ParsePublish parses a -p value, [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO],
// either port possibly a range, as Docker does.
func ParsePublish(s string) ([]PublishedPort, error) { return portproxy.ParseSpec(s) }
