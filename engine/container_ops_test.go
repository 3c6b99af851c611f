package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/syncbuf"
	"github.com/berth-dev/berth/internal/testimage"
)

// shimEnv turns the test binary into a container's shim: TestMain runs
// ShimMain when the runtime starts it with this set.
const shimEnv = "BERTH_ENGINE_TEST_SHIM"

func TestMain(m *testing.M) {
	if os.Getenv(shimEnv) == "1" {
		os.Exit(ShimMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runtimeEngine is an engine that runs containers (network "none" only:
// no bridge), with a busybox image "box" loaded.
func runtimeEngine(t *testing.T) *Engine {
	t.Helper()
	if why := testimage.CannotRunContainers(); why != "" {
		t.Skip(why)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runDir, err := os.MkdirTemp("/tmp", "bet") // short: console sockets live here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	e, err := Open(context.Background(), Options{Root: t.TempDir(), Runtime: RuntimeOptions{
		RunDir: runDir, Shim: []string{self}, ShimEnv: []string{shimEnv + "=1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	bb, err := testimage.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	load(t, e, testimage.DockerArchive(testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, bb), Layers: [][]byte{bb}, Tags: []string{"box"}}))
	return e
}

// An --rm container that the runtime removes at its exit leaves no
// record in the store once its session ends: the engine forgets it
// itself, with no listing or sync in between, and its image goes without
// force.
func TestRemovedContainerLeavesNoRef(t *testing.T) {
	ctx := context.Background()
	e := runtimeEngine(t)

	var out syncbuf.Buffer
	c, err := e.CreateContainer(ctx, CreateOptions{Image: "box", Cmd: []string{"sh", "-c", "echo hi; exit 3"}, Network: "none", AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.StartContainer(ctx, c.ID, &Streams{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	code, err := s.Wait(ctx)
	s.Close()
	if err != nil || code != 3 || out.String() != "hi\n" {
		t.Fatalf("wait: %d %v, output %q", code, err, out.String())
	}
	if ids := refIDs(t, e); len(ids) != 0 {
		t.Fatalf("refs after the --rm container went: %v", ids)
	}

	// Detached, then waited for: the same.
	c, err = e.CreateContainer(ctx, CreateOptions{Image: "box", Cmd: []string{"true"}, Network: "none", AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.StartContainer(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitContainer(ctx, c.ID); err != nil && !errdefs.IsNotFound(err) {
		t.Fatal(err)
	}
	if ids := refIDs(t, e); len(ids) != 0 {
		t.Fatalf("refs after the detached --rm container went: %v", ids)
	}

	// A start that fails: the runtime removes the container, the engine
	// its ref; the error keeps its kind for exit code 127.
	c, err = e.CreateContainer(ctx, CreateOptions{Image: "box", Cmd: []string{"nosuchcmd"}, Network: "none", AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.StartContainer(ctx, c.ID, &Streams{Stdout: &bytes.Buffer{}}); !errors.Is(err, errdefs.ErrCommandNotFound) {
		t.Fatalf("start of a missing command: %v", err)
	}
	if ids := refIDs(t, e); len(ids) != 0 {
		t.Fatalf("refs after a failed --rm start: %v", ids)
	}
	if _, err := e.Remove(ctx, "box", false); err != nil {
		t.Fatalf("rmi after the --rm containers went: %v", err)
	}
}
