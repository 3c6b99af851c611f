package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/image"
)

// ContainerInspect is `container inspect`'s JSON, shaped as Docker's (key
// for key where berth has the value; fixed values where Docker's would be
// a feature berth does not have).
type ContainerInspect struct {
	ID              string `json:"Id"`
	Created         time.Time
	Path            string
	Args            []string
	State           ContainerState
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	ExecIDs         []string
	HostConfig      ContainerHostConfig
	GraphDriver     GraphDriver
	Mounts          []ContainerMount
	Config          image.ContainerConfig // Docker's container.Config, the type images use
	NetworkSettings ContainerNetworkSettings
}

// ContainerState is the State object.
type ContainerState struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
}

// PortBinding is a host side of a port, as Docker's nat.PortBinding.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// ContainerHostConfig is the HostConfig object.
type ContainerHostConfig struct {
	Binds           []string
	ContainerIDFile string
	LogConfig       LogConfig
	NetworkMode     string
	PortBindings    map[string][]PortBinding
	RestartPolicy   RestartPolicy
	AutoRemove      bool
	VolumeDriver    string
	VolumesFrom     []string
	CapAdd          []string
	CapDrop         []string
	CgroupnsMode    string
	Dns             []string
	DnsOptions      []string
	DnsSearch       []string
	ExtraHosts      []string
	GroupAdd        []string
	IpcMode         string
	Cgroup          string
	Links           []string
	OomScoreAdj     int
	PidMode         string
	Privileged      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	UTSMode         string
	UsernsMode      string
	ShmSize         int64
	Runtime         string
	Isolation       string
	CpuShares       int64
	Memory          int64
	NanoCpus        int64
	MaskedPaths     []string
	ReadonlyPaths   []string
}

// LogConfig names the log driver.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// RestartPolicy is always "no": berth has no daemon to restart containers.
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// ContainerMount is one entry of Mounts.
type ContainerMount struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// ContainerNetworkSettings is the NetworkSettings object.
type ContainerNetworkSettings struct {
	Bridge                 string
	SandboxID              string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	Ports                  map[string][]PortBinding
	SandboxKey             string
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
	Networks               map[string]*EndpointSettings
}

// EndpointSettings is one network the container is on.
type EndpointSettings struct {
	IPAMConfig          any
	Links               []string
	Aliases             []string
	NetworkID           string
	EndpointID          string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	MacAddress          string
	DriverOpts          map[string]string
}

// Docker's defaults for what berth does the same way.
var (
	maskedPaths   = []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// InspectContainer describes the container ref names.
func (e *Engine) InspectContainer(ctx context.Context, ref string) (ContainerInspect, error) {
	m, err := e.runtime(ctx)
	if err != nil {
		return ContainerInspect{}, err
	}
	c, err := m.Get(ctx, ref)
	if err != nil {
		return ContainerInspect{}, err
	}
	return inspectOf(c), nil
}

func inspectOf(c *ctr.Container) ContainerInspect {
	dir := c.Dir()
	args := c.Args
	if args == nil {
		args = []string{}
	}
	st := c.State
	out := ContainerInspect{
		ID:      c.ID,
		Created: c.Created,
		Path:    c.Path,
		Args:    args,
		State: ContainerState{
			Status: string(st.Status), Running: st.Running, Pid: st.Pid, ExitCode: st.ExitCode,
			Error: st.Error, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
		},
		Image:           c.ImageID,
		ResolvConfPath:  filepath.Join(dir, "resolv.conf"),
		HostnamePath:    filepath.Join(dir, "hostname"),
		HostsPath:       filepath.Join(dir, "hosts"),
		LogPath:         c.LogPath,
		Name:            "/" + c.Name,
		Driver:          "overlay",
		Platform:        "linux",
		GraphDriver:     graphDriverOf(c),
		HostConfig:      hostConfigOf(c.HostConfig),
		Config:          configOf(c),
		NetworkSettings: networkSettingsOf(c),
	}
	out.Mounts, out.HostConfig.Binds = mountsOf(c.Mounts)
	return out
}

// graphDriverOf shows the container's overlay as Docker's overlay2 shows it.
func graphDriverOf(c *ctr.Container) GraphDriver {
	dir := c.Dir()
	g := GraphDriver{Name: "overlay", Data: map[string]string{}}
	if len(c.Layers) > 0 {
		lower := make([]string, 0, len(c.Layers))
		for i := len(c.Layers) - 1; i >= 0; i-- {
			lower = append(lower, c.Layers[i])
		}
		g.Data = map[string]string{
			"LowerDir":  strings.Join(lower, ":"),
			"MergedDir": filepath.Join(dir, "rootfs"),
			"UpperDir":  filepath.Join(dir, "upper"),
			"WorkDir":   filepath.Join(dir, "work"),
		}
	}
	return g
}

func hostConfigOf(hc ctr.HostConfig) ContainerHostConfig {
	out := ContainerHostConfig{
		LogConfig:       LogConfig{Type: "json-file", Config: map[string]string{}},
		NetworkMode:     hc.NetworkMode,
		PortBindings:    map[string][]PortBinding{},
		RestartPolicy:   RestartPolicy{Name: "no"},
		AutoRemove:      hc.AutoRemove,
		CgroupnsMode:    "host",
		Dns:             []string{},
		DnsOptions:      []string{},
		DnsSearch:       []string{},
		IpcMode:         "private",
		PublishAllPorts: hc.PublishAllPorts,
		ReadonlyRootfs:  hc.ReadonlyRootfs,
		SecurityOpt:     hc.SecurityOpt,
		ShmSize:         64 << 20,
		Runtime:         "runc",
		Memory:          hc.Memory,
		NanoCpus:        hc.NanoCPUs,
		MaskedPaths:     maskedPaths,
		ReadonlyPaths:   readonlyPaths,
	}
	for _, b := range hc.PortBindings {
		port := fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto)
		out.PortBindings[port] = append(out.PortBindings[port], PortBinding{HostIP: b.HostIP, HostPort: portString(b.HostPort)})
	}
	return out
}

// mountsOf are the container's mounts as inspect shows them, and the
// named ones as -v would give them (HostConfig.Binds).
func mountsOf(mps []ctr.MountPoint) ([]ContainerMount, []string) {
	mounts := []ContainerMount{}
	var binds []string
	for _, mp := range mps {
		m := ContainerMount{Type: mp.Type, Name: mp.Name, Source: mp.Source, Destination: mp.Destination, RW: mp.RW}
		if !mp.RW {
			m.Mode = "ro"
		}
		if mp.Type == "volume" {
			m.Driver = "local"
		} else {
			m.Propagation = "rprivate"
		}
		mounts = append(mounts, m)
		if mp.Anonymous {
			continue
		}
		bind := mp.Name
		if mp.Type == "bind" {
			bind = mp.Source
		}
		bind += ":" + mp.Destination
		if !mp.RW {
			bind += ":ro"
		}
		binds = append(binds, bind)
	}
	return mounts, binds
}

func configOf(c *ctr.Container) image.ContainerConfig {
	cfg := c.Config
	out := image.ContainerConfig{
		Hostname:    cfg.Hostname,
		User:        cfg.User,
		Tty:         cfg.Tty,
		OpenStdin:   cfg.OpenStdin,
		StdinOnce:   cfg.StdinOnce,
		Env:         cfg.Env,
		Cmd:         cfg.Cmd,
		Image:       c.Image,
		WorkingDir:  cfg.WorkingDir,
		Entrypoint:  cfg.Entrypoint,
		Labels:      cfg.Labels,
		StopSignal:  cfg.StopSignal,
		StopTimeout: cfg.StopTimeout,
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if len(cfg.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for _, p := range cfg.ExposedPorts {
			out.ExposedPorts[p] = struct{}{}
		}
	}
	if len(cfg.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for _, v := range cfg.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	return out
}

func networkSettingsOf(c *ctr.Container) ContainerNetworkSettings {
	ns := ContainerNetworkSettings{Ports: map[string][]PortBinding{}, Networks: map[string]*EndpointSettings{}}
	net := &EndpointSettings{}
	if ep := c.NetworkSettings.Endpoint; ep != nil {
		ns.SandboxKey = ep.NetNS
		ns.Gateway, ns.IPAddress, ns.IPPrefixLen, ns.MacAddress = ep.Gateway.String(), ep.IP.String(), ep.PrefixLen, ep.MAC
		net.Gateway, net.IPAddress, net.IPPrefixLen, net.MacAddress = ns.Gateway, ns.IPAddress, ns.IPPrefixLen, ns.MacAddress
	}
	name := c.HostConfig.NetworkMode
	if name == "" {
		name = "bridge"
	}
	ns.Networks[name] = net
	if c.State.Running {
		// As Docker: every exposed port, with its host side once published.
		for _, p := range c.Config.ExposedPorts {
			ns.Ports[p] = nil
		}
		for _, mp := range c.NetworkSettings.Ports {
			ns.Ports[mp.Port()] = append(ns.Ports[mp.Port()], PortBinding{HostIP: mp.HostIP, HostPort: portString(mp.HostPort)})
		}
	}
	return ns
}

func portString(p uint16) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(int(p))
}
