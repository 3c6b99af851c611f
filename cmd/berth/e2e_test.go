package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testimage"
)

// berthBin is the real binary, built once: these tests run it as users do,
// several at once and killed at random.
var berthBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-e2e")
	if err != nil {
		panic(err)
	}
	berthBin = filepath.Join(dir, "berth")
	build := exec.Command("go", "build", "-o", berthBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building berth: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func berth(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, errb.String())
	}
	return out.String(), nil
}

// bigArchive is a Docker archive of two images sharing layers, big enough
// that a kill lands in the middle of unpacking.
func bigArchive(t *testing.T) string {
	t.Helper()
	var layers [][]byte
	for i := 0; i < 5; i++ {
		layers = append(layers, testimage.RandomTar(int64(100+i), 300, 8<<10))
	}
	a := testimage.DockerArchive(
		testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, layers[:4]...), Layers: [][]byte{layers[0], layers[1], testimage.Gzip(layers[2]), layers[3]}, Tags: []string{"big:a"}},
		testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, layers[0], layers[1], layers[4]), Layers: [][]byte{layers[0], layers[1], layers[4]}, Tags: []string{"big:b"}},
	)
	p := filepath.Join(t.TempDir(), "big.tar")
	if err := os.WriteFile(p, a, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkClean(t *testing.T, root string) {
	t.Helper()
	out, err := berth(t, root, "system", "check")
	if err != nil || !strings.Contains(out, " 0 problems") {
		t.Fatalf("system check: %v\n%s", err, out)
	}
}

func TestConcurrentLoads(t *testing.T) {
	root := t.TempDir()
	archive := bigArchive(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = berth(t, root, "load", "-i", archive)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	out, _ := berth(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if strings.Join(strings.Fields(out), " ") != "big:a big:b" && strings.Join(strings.Fields(out), " ") != "big:b big:a" {
		t.Errorf("images after concurrent loads: %q", out)
	}
	checkClean(t, root)
}

func TestLoadKilledAtRandomPoints(t *testing.T) {
	root := t.TempDir()
	archive := bigArchive(t)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for round := 0; round < 8; round++ {
		cmd := exec.Command(berthBin, "--root", root, "load", "-i", archive)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		checkClean(t, root)
	}
	if _, err := berth(t, root, "load", "-i", archive); err != nil {
		t.Fatal(err)
	}
	checkClean(t, root)
	// What killed loads left behind goes with the next removal.
	if _, err := berth(t, root, "rmi", "big:a", "big:b"); err != nil {
		t.Fatal(err)
	}
	out, _ := berth(t, root, "system", "check")
	if !strings.Contains(out, "Checked 0 blobs, 0 layers, 0 images: 0 problems.") {
		t.Errorf("store after removing everything: %s", out)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "layers", "tmp"))
	if len(entries) != 0 {
		t.Errorf("unpacking leftovers: %v", entries)
	}
}
