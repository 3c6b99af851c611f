// Command berth is the daemonless container image CLI and the hub server.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/welcome"
)

func main() {
	// A container's supervisor is berth itself, run as "berth shim" once
	// per container start: it goes straight to its work.
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(engine.ShimMain(os.Args[2:]))
	}
	// Run as "welcome" (the seeded hub image installs berth under that
	// name), berth serves the welcome page instead.
	if filepath.Base(os.Args[0]) == "welcome" {
		os.Exit(welcome.Main(os.Args))
	}
	os.Exit(profiled(func() int { return cli.Main(os.Args) }))
}

// profiled writes a CPU profile of run to $BERTH_CPUPROFILE when it is set,
// for measuring where a pull or a load spends its time.
func profiled(run func() int) int {
	path := os.Getenv("BERTH_CPUPROFILE")
	if path == "" {
		return run()
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "BERTH_CPUPROFILE:", err)
		return run()
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "BERTH_CPUPROFILE:", err)
		return run()
	}
	defer pprof.StopCPUProfile()
	return run()
}
