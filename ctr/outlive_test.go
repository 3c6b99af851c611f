package ctr_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/internal/syncbuf"
)

// cliRunDetached is `berth run -d`: a process that starts a container and
// exits, printing its ID. The environment names the layer and the run
// directory.
func cliRunDetached(dir string) int {
	ctx := context.Background()
	exe, _ := os.Executable()
	m, err := ctr.Open(ctx, dir, ctr.Options{
		RunDir: os.Getenv("TEST_RUN_DIR"), Shim: []string{exe}, ShimEnv: []string{shimEnv + "=1"},
		Bridge: testBridge, Subnet: testSubnet,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	o := busybox("sh", "-c", "echo started; sleep 1000")
	o.Layers = []string{os.Getenv("TEST_LAYER")}
	o.Network = "bridge"
	c, err := m.Create(ctx, o)
	if err == nil {
		_, err = m.Start(ctx, c.ID, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Print(c.ID)
	return 0
}

func TestOutlivesTheCLI(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	list, _ := m.List(ctx)
	if len(list) != 0 {
		t.Fatal("not empty")
	}
	dir := m.Dir()
	exe, _ := os.Executable()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), cliEnv+"="+dir, "TEST_RUN_DIR="+runDir, "TEST_LAYER="+busyboxDir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the CLI process: %v %s", err, out)
	}
	id := strings.TrimSpace(string(out))
	// The CLI is gone; the container runs on under its shim.
	c, err := m.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.State.Running {
		t.Fatalf("state %+v", c.State)
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.State.Shim.Pid))
	if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) < 2 || f[1] == fmt.Sprint(cmd.Process.Pid) {
		t.Errorf("the shim's parent is still the CLI: %s", stat)
	}
	var logs syncbuf.Buffer
	waitFor(t, "the log", func() bool {
		m.Logs(ctx, id, ctr.LogsOptions{Tail: -1}, &logs, &logs)
		return strings.Contains(logs.String(), "started")
	})
	if got := execOut(t, m, id, "echo", "still here"); got != "still here\n" {
		t.Errorf("exec: %q", got)
	}
}
