//go:build berth_crashpoints

package crashpoint

import "os"

// Only a test build reads the variable: a berth users run never kills
// itself, whatever its environment says.
func init() { KillAt(os.Getenv(Env)) }
