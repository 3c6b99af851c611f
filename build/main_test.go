package build

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/syncbuf"
	"github.com/berth-dev/berth/internal/testimage"
)

// shimEnv turns the test binary into a container's shim.
const shimEnv = "BERTH_BUILD_TEST_SHIM"

func TestMain(m *testing.M) {
	if os.Getenv(shimEnv) == "1" {
		os.Exit(engine.ShimMain(os.Args[1:]))
	}
	if root := os.Getenv(childEnv); root != "" {
		os.Exit(childBuild(root))
	}
	os.Exit(m.Run())
}

// childEnv makes the test binary a berth that builds the context in
// BERTH_BUILD_TEST_CONTEXT in the store it names, to be killed.
const childEnv = "BERTH_BUILD_TEST_CHILD"

func childBuild(root string) int {
	ctx := context.Background()
	e, err := engine.Open(ctx, engine.Options{Root: root, Runtime: runtimeOptions(os.Getenv("BERTH_BUILD_TEST_RUNDIR"))})
	if err != nil {
		return 2
	}
	_, err = Build(ctx, e, Options{ContextDir: os.Getenv("BERTH_BUILD_TEST_CONTEXT"), Network: "none"})
	if err != nil {
		return 1
	}
	return 0
}

func runtimeOptions(runDir string) engine.RuntimeOptions {
	self, _ := os.Executable()
	return engine.RuntimeOptions{RunDir: runDir, Shim: []string{self}, ShimEnv: []string{shimEnv + "=1"}}
}

// newEngine is an engine in a fresh store that runs containers (network
// "none" only), with a busybox image "box" loaded.
func newEngine(t *testing.T) *engine.Engine {
	e, _ := newEngineDirs(t)
	return e
}

// newEngineDirs is newEngine that also says where its runtime runs.
func newEngineDirs(t *testing.T) (*engine.Engine, string) {
	t.Helper()
	if why := testimage.CannotRunContainers(); why != "" {
		t.Skip(why)
	}
	runDir, err := os.MkdirTemp("/tmp", "bbt") // short: console sockets live here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	e, err := engine.Open(context.Background(), engine.Options{Root: t.TempDir(), Runtime: runtimeOptions(runDir)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	bb, err := testimage.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	archive := testimage.DockerArchive(testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, bb), Layers: [][]byte{bb}, Tags: []string{"box"}})
	if _, err := e.Load(context.Background(), strings.NewReader(string(archive)), nil); err != nil {
		t.Fatal(err)
	}
	return e, runDir
}

// writeContext writes files (name → body) into a fresh context directory.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// build builds with network none, its progress in the test log.
func build(t *testing.T, e *engine.Engine, o Options) (Result, string) {
	t.Helper()
	var log syncbuf.Buffer
	o.Progress = &log
	if o.Network == "" {
		o.Network = "none"
	}
	res, err := Build(context.Background(), e, o)
	t.Logf("progress:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	return res, log.String()
}

// runImage runs cmd in the image and returns its output.
func runImage(t *testing.T, e *engine.Engine, ref string, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	c, err := e.CreateContainer(ctx, engine.CreateOptions{Image: ref, Cmd: cmd, Network: "none", AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	s, err := e.StartContainer(ctx, c.ID, &engine.Streams{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	code, err := s.Wait(ctx)
	s.Close()
	if err != nil || code != 0 {
		t.Fatalf("run %v: exit %d, %v: %s", cmd, code, err, out.String())
	}
	return out.String()
}

// topLayerEntries lists the names in the image's top layer's tar.
func topLayerEntries(t *testing.T, e *engine.Engine, ref string) []string {
	t.Helper()
	ctx := context.Background()
	img, err := e.InspectImage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.NewBuildSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(ctx)
	base, err := sess.Base(ctx, img.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	top := base.Layers[len(base.Layers)-1]
	r, err := e.Store().OpenLayerTar(ctx, top.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.trusted.overlay.") {
				t.Errorf("%s keeps %s", h.Name, k)
			}
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}
