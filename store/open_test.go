package store

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// openerEnv makes the test binary a process that opens one store and exits.
const openerEnv = "BERTH_STORE_TEST_OPEN"

func init() {
	if root := os.Getenv(openerEnv); root != "" {
		s, err := Open(context.Background(), root)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		s.Close()
		os.Exit(0)
	}
}

// TestConcurrentFirstOpens opens fresh stores from many processes at once,
// as ten `berth pull`s into a new root do: none may fail with SQLITE_BUSY
// (the switch of a new database to WAL does not wait on the busy timeout).
func TestConcurrentFirstOpens(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		root := t.TempDir()
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(exe, "-test.run=^$")
				cmd.Env = append(os.Environ(), openerEnv+"="+root)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("open: %v: %s", err, out)
				}
			}()
		}
		wg.Wait()
	}
}
