// Package spec writes the OCI runtime configuration of a berth container with
// Docker's defaults: its capability set, seccomp profile, masked and read-only
// /proc paths, mounts, device rules and namespaces. It also holds the rules
// Docker applies to what a user asks for: the environment, the user, the
// working directory and --security-opt.
//
// Nothing here runs a container; the caller writes the result as a bundle's
// config.json for runc.
package spec

import (
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// Options is what a container's configuration is made from.
type Options struct {
	// ID names the container to runc and its cgroup.
	ID string
	// Process is the container's first process.
	Process ProcessOptions
	// Hostname of the container's UTS namespace.
	Hostname string
	// ReadOnly mounts the root filesystem read-only.
	ReadOnly bool
	// Mounts are added after Docker's default mounts (volumes, binds, /etc files).
	Mounts []specs.Mount
	// NetNS is the path of the network namespace to join; empty makes a new
	// one (with only loopback), unless HostNetwork is set.
	NetNS       string
	HostNetwork bool
	// Memory is the memory limit in bytes (0: none).
	Memory int64
	// CPUs is the number of CPUs the container may use (0: no limit).
	CPUs float64
	// CgroupParent is the cgroup the container's cgroup is made under.
	CgroupParent string
}

// ProcessOptions describe a process started in a container, the first one or
// an exec.
type ProcessOptions struct {
	Args            []string
	Env             []string
	Cwd             string
	User            specs.User
	Terminal        bool
	NoNewPrivileges bool
	// Seccomp is the filter; nil runs unconfined. Only the first process
	// sets it: an exec shares the container's.
	Seccomp *specs.LinuxSeccomp
}

// Generate returns the runtime configuration for a container whose root
// filesystem is the bundle's "rootfs" directory.
func Generate(o Options) (*specs.Spec, error) {
	if o.ID == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "container ID is empty")
	}
	proc, err := Process(o.Process)
	if err != nil {
		return nil, err
	}
	parent := o.CgroupParent
	if parent == "" {
		parent = "/berth"
	}
	s := &specs.Spec{
		Version:  specs.Version,
		Process:  proc,
		Root:     &specs.Root{Path: "rootfs", Readonly: o.ReadOnly},
		Hostname: o.Hostname,
		Mounts:   append(defaultMounts(), o.Mounts...),
		Linux: &specs.Linux{
			CgroupsPath:   filepath.Join(parent, o.ID),
			Namespaces:    namespaces(o),
			MaskedPaths:   maskedPaths(),
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Resources:     resources(o),
			Seccomp:       o.Process.Seccomp,
		},
	}
	if !o.HostNetwork {
		// As Docker since 20.10: a container with its own network may bind
		// low ports and ping without extra capabilities.
		s.Linux.Sysctl = map[string]string{
			"net.ipv4.ip_unprivileged_port_start": "0",
			"net.ipv4.ping_group_range":           "0 2147483647",
		}
	}
	return s, nil
}

// Process returns the process part of a configuration, for the first process
// or for `runc exec --process`.
func Process(o ProcessOptions) (*specs.Process, error) {
	if len(o.Args) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "no command specified")
	}
	if o.Cwd == "" {
		o.Cwd = "/"
	}
	if err := CheckWorkDir(o.Cwd); err != nil {
		return nil, err
	}
	caps := DefaultCapabilities()
	return &specs.Process{
		Terminal: o.Terminal,
		User:     o.User,
		Args:     o.Args,
		Env:      o.Env,
		Cwd:      o.Cwd,
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  caps,
			Effective: caps,
			Permitted: caps,
		},
		Rlimits:         rlimits(),
		NoNewPrivileges: o.NoNewPrivileges,
	}, nil
}

// DefaultCapabilities is Docker's default capability set.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
}

func maskedPaths() []string {
	paths := []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	// Per-CPU thermal counters leak host activity (GHSA-6fw5-f8r9-fgfm).
	cpus, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle")
	return append(paths, cpus...)
}

func namespaces(o Options) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{
		{Type: specs.MountNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.PIDNamespace},
		{Type: specs.IPCNamespace},
	}
	if !o.HostNetwork {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: o.NetNS})
	}
	if CgroupV2() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return ns
}

func resources(o Options) *specs.LinuxResources {
	dev := func(allow bool, major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	}
	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			dev(true, 1, 5), dev(true, 1, 3), dev(true, 1, 9), dev(true, 1, 8),
			dev(true, 5, 0), dev(true, 5, 1), dev(false, 10, 229),
		},
	}
	if o.Memory > 0 {
		mem := o.Memory
		r.Memory = &specs.LinuxMemory{Limit: &mem}
		if swapLimitSupported() {
			// Docker's default: as much swap as memory.
			swap := 2 * mem
			r.Memory.Swap = &swap
		}
	}
	if o.CPUs > 0 {
		period := uint64(100000)
		quota := int64(o.CPUs * float64(period))
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	return r
}

// maxNofile is what Docker's containers usually get (containerd's limit).
const maxNofile = 1 << 20

// rlimits gives the container as many open files as the caller may have and
// never more: asking for more than the caller's hard limit makes runc fail
// with "error setting rlimit type 7".
func rlimits() []specs.POSIXRlimit {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil
	}
	n := min(lim.Max, maxNofile)
	return []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: n, Soft: n}}
}

// CgroupV2 reports whether the host runs the unified cgroup hierarchy.
func CgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

func swapLimitSupported() bool {
	for _, p := range []string{
		"/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
		"/sys/fs/cgroup/init.scope/memory.swap.max",
		"/sys/fs/cgroup/system.slice/memory.swap.max",
	} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
