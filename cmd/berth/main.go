// Command berth is the daemonless container image CLI and the hub server.
package main

import (
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/welcome"
)

func main() {
	// Run as "welcome" (the seeded hub image installs berth under that
	// name), berth serves the welcome page instead.
	if filepath.Base(os.Args[0]) == "welcome" {
		os.Exit(welcome.Main(os.Args))
	}
	os.Exit(cli.Main(os.Args))
}
