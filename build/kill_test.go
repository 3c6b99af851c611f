package build

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A build killed with SIGKILL while a RUN step runs leaves a step that the
// next build ends: no step container, no mount under the store.
func TestKilledBuildLeavesNoStep(t *testing.T) {
	ctx := context.Background()
	e, runDir := newEngineDirs(t)
	dir := writeContext(t, map[string]string{"Containerfile": "FROM box\nRUN sleep 60\n"})
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+e.Store().Root(), "BERTH_BUILD_TEST_RUNDIR="+runDir, "BERTH_BUILD_TEST_CONTEXT="+dir)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	prefix := "berth-build-" + strconv.Itoa(child.Process.Pid) + "-"
	running := func() bool {
		list, err := e.Containers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			if strings.HasPrefix(c.Name, prefix) && c.State.Running {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(20 * time.Second); !running(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatal("the step never ran")
		}
	}
	child.Process.Kill()
	child.Wait()

	sess, err := e.NewBuildSession(ctx) // the next build ends what the dead one left
	if err != nil {
		t.Fatal(err)
	}
	sess.Close(ctx)
	list, err := e.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		t.Errorf("left behind: %s (%s)", c.Name, c.State.Status)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), e.Store().Root()) {
		t.Errorf("a mount under the store is left:\n%s", mounts)
	}
}
