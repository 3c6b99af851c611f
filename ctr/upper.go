package ctr

import "path/filepath"

// UpperDir is the container's overlayfs upper directory: what it wrote.
// A build takes it, once the container has exited, as a RUN step's layer.
func (c *Container) UpperDir() string { return filepath.Join(c.dir, "upper") }

// RootDir is where the container's root filesystem is mounted while it
// runs (cp reads and writes through it, resolving paths inside it).
func (c *Container) RootDir() string { return filepath.Join(c.dir, "rootfs") }

// Stubs are the mount points the runtime makes in a container's root when
// the image lacks them (the /etc files start binds, and the spec's /proc,
// /sys and /dev): the runtime's doing, not the container's, so a diff, a
// commit or a build step's layer leaves them out.
var Stubs = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc", "/sys", "/dev"}
