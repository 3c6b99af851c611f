package ctr

import (
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/ctr/network"
	"github.com/berth-dev/berth/ctr/portproxy"
)

// Status is where a container is in its life.
type Status string

// A container is created, then runs, then has exited; start makes it run
// again.
const (
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusExited  Status = "exited"
)

// Container is a container's record, in the shape of `docker inspect`
// where the two meet.
type Container struct {
	ID      string
	Name    string
	Created time.Time
	// Image is the image as the user named it; ImageID is its config
	// digest. An image is in use while a container names it.
	Image   string
	ImageID string
	// Path and Args are the command of the first process.
	Path string
	Args []string

	Config     Config
	HostConfig HostConfig
	// Layers are the image's unpacked layer directories, lowest first.
	Layers          []string
	Mounts          []MountPoint
	State           State
	NetworkSettings NetworkSettings
	LogPath         string

	dir string
}

// Config is how the container runs: the image's config merged with what
// the user asked for, as Docker merges them.
type Config struct {
	Hostname     string
	User         string            `json:",omitempty"`
	Env          []string          `json:",omitempty"`
	Cmd          []string          `json:",omitempty"`
	Entrypoint   []string          `json:",omitempty"`
	WorkingDir   string            `json:",omitempty"`
	Tty          bool              `json:",omitempty"`
	OpenStdin    bool              `json:",omitempty"`
	StdinOnce    bool              `json:",omitempty"`
	ExposedPorts []string          `json:",omitempty"` // "80/tcp"
	Volumes      []string          `json:",omitempty"`
	Labels       map[string]string `json:",omitempty"`
	StopSignal   string            `json:",omitempty"`
	StopTimeout  *int              `json:",omitempty"`
}

// HostConfig is how the container meets the host.
type HostConfig struct {
	AutoRemove      bool                `json:",omitempty"`
	NetworkMode     string              // "bridge", "none" or "host"
	PortBindings    []portproxy.Binding `json:",omitempty"`
	PublishAllPorts bool                `json:",omitempty"`
	ReadonlyRootfs  bool                `json:",omitempty"`
	Memory          int64               `json:",omitempty"`
	NanoCPUs        int64               `json:",omitempty"`
	SecurityOpt     []string            `json:",omitempty"`
	// SeccompProfile holds a profile file's content, read at create time.
	SeccompProfile string `json:",omitempty"`
}

// MountPoint is a volume or bind mount of the container.
type MountPoint struct {
	Type        string // "bind" or "volume"
	Name        string `json:",omitempty"` // the volume's name
	Source      string // host path: the bind source as given, or the volume's data
	Destination string
	RW          bool
	// Anonymous volumes were made for this container (an image's VOLUME or
	// a bare -v /path) and go with it on rm -v.
	Anonymous bool `json:",omitempty"`
	// NoCopy keeps a new volume empty instead of filling it from the image.
	NoCopy bool `json:",omitempty"`
}

// State is the container's runtime state.
type State struct {
	Status     Status
	Running    bool
	Pid        int       `json:",omitempty"`
	ExitCode   int       // of the last run, or 126/127/128 when it could not start
	Error      string    `json:",omitempty"`
	StartedAt  time.Time `json:",omitzero"`
	FinishedAt time.Time `json:",omitzero"`
	// Shim identifies the running container's supervisor, so a record of
	// a container whose shim died (or whose host rebooted) can be told from
	// a running one.
	Shim *ShimProcess `json:",omitempty"`
}

// ShimProcess names a process across pid reuse and reboots.
type ShimProcess struct {
	Pid       int
	StartTime uint64 // in clock ticks since boot, from /proc/<pid>/stat
	BootID    string
}

// NetworkSettings are the container's address and published ports while it
// runs.
type NetworkSettings struct {
	Endpoint *network.Endpoint   `json:",omitempty"`
	Ports    []portproxy.Mapping `json:",omitempty"`
}

// IPAddress is the container's address on the bridge, "" without one.
func (n NetworkSettings) IPAddress() string {
	if n.Endpoint == nil {
		return ""
	}
	return n.Endpoint.IP.String()
}

// Dir is the container's directory (its runc bundle).
func (c *Container) Dir() string { return c.dir }

// Command is the command as `docker ps` shows it, untruncated: arguments
// with a space are put in single quotes, as Docker's daemon does.
func (c *Container) Command() string {
	parts := []string{c.Path}
	for _, a := range c.Args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// ShortID is the 12-digit ID.
func (c *Container) ShortID() string { return c.ID[:12] }

// StatusText is the STATUS column of `docker ps`: "Up 5 seconds",
// "Exited (0) 3 minutes ago", "Created".
func (c *Container) StatusText(now time.Time) string {
	switch c.State.Status {
	case StatusRunning:
		return "Up " + humanDuration(now.Sub(c.State.StartedAt))
	case StatusExited:
		return fmt.Sprintf("Exited (%d) %s ago", c.State.ExitCode, humanDuration(now.Sub(c.State.FinishedAt)))
	}
	return "Created"
}

// PortsText is the PORTS column: published ports, then exposed ones.
func (c *Container) PortsText() string {
	var parts []string
	published := map[string]bool{}
	for _, m := range c.NetworkSettings.Ports {
		parts = append(parts, m.String())
		published[m.Port()] = true
	}
	for _, p := range c.Config.ExposedPorts {
		if !published[p] {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// humanDuration words a duration as Docker's go-units HumanDuration does.
func humanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return fmt.Sprintf("%d seconds", seconds)
	}
	minutes := int(d.Minutes())
	switch {
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return fmt.Sprintf("%d minutes", minutes)
	}
	hours := int(d.Hours() + 0.5)
	switch {
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return fmt.Sprintf("%d hours", hours)
	case hours < 24*7*2:
		return fmt.Sprintf("%d days", hours/24)
	case hours < 24*30*2:
		return fmt.Sprintf("%d weeks", hours/24/7)
	case hours < 24*365*2:
		return fmt.Sprintf("%d months", hours/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}
