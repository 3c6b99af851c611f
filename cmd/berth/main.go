// Command berth is the daemonless container image CLI and the hub server.
package main

import (
	"os"

	"github.com/berth-dev/berth/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
