// Command berth is the daemonless container image CLI and the hub server.
package main

import (
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/welcome"
	"github.com/berth-dev/berth/runtime"
)

func main() {
	// A container's supervisor is berth itself, run as "berth shim" once
	// per container start: it goes straight to its work.
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(runtime.ShimMain(os.Args[2:]))
	}
	// Run as "welcome" (the seeded hub image installs berth under that
	// name), berth serves the welcome page instead.
	if filepath.Base(os.Args[0]) == "welcome" {
		os.Exit(welcome.Main(os.Args))
	}
	os.Exit(cli.Main(os.Args))
}
