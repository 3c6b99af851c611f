// Command rundriver stands in for `berth run` in bench/run.sh until the CLI
// has it: it runs one container from layer directories through the runtime
// package, exactly as the CLI will (one process per run, the shim being the
// same executable), and exits with the container's code.
//
//	rundriver run --root DIR --layer DIR [--layer DIR...] [--network none] [--rm] CMD...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/runtime"
)

type layers []string

func (l *layers) String() string     { return fmt.Sprint(*l) }
func (l *layers) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(runtime.ShimMain(os.Args[2:]))
	}
	if len(os.Args) < 2 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, "usage: rundriver run --root DIR --layer DIR [--network none] [--rm] CMD...")
		os.Exit(125)
	}
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	root := fs.String("root", "", "berth root")
	network := fs.String("network", "bridge", "network mode")
	rm := fs.Bool("rm", false, "remove the container when it exits")
	var ls layers
	fs.Var(&ls, "layer", "layer directory, lowest first (repeatable)")
	_ = fs.Parse(os.Args[2:])
	if *root == "" || len(ls) == 0 || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "rundriver: --root, --layer and a command are required")
		os.Exit(125)
	}
	ctx := context.Background()
	m, err := runtime.Open(ctx, filepath.Join(*root, "containers"), runtime.Options{})
	if err != nil {
		fail(err)
	}
	c, err := m.Create(ctx, runtime.CreateOptions{
		Image:       "bench",
		Layers:      ls,
		ImageConfig: &image.ContainerConfig{Env: []string{"PATH=/bin"}},
		Cmd:         fs.Args(),
		Network:     *network,
		AutoRemove:  *rm,
	})
	if err != nil {
		fail(err)
	}
	s, err := m.Start(ctx, c.ID, &runtime.Streams{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		fail(err)
	}
	code, err := s.Wait(ctx)
	if err != nil {
		fail(err)
	}
	os.Exit(code)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rundriver:", err)
	os.Exit(125)
}
