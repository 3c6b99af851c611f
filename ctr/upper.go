package ctr

import "path/filepath"

// UpperDir is the container's overlayfs upper directory: what it wrote.
// A build takes it, once the container has exited, as a RUN step's layer.
func (c *Container) UpperDir() string { return filepath.Join(c.dir, "upper") }
