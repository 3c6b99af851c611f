package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/ctr/crashpoint"
	"github.com/berth-dev/berth/internal/testimage"
)

// These tests kill the real berth with SIGKILL in the middle of create,
// run -d and rm -f: at each of its crashpoints (a build of berth with the
// berth_crashpoints tag dies where $BERTH_CRASH_AT says) and after random
// delays. After each kill the store must hold no broken container: ps -a
// shows only whole ones, system check repairs what the kill left and
// finds no problem, nothing is left mounted, no namespace, veth, address
// or runc state and no shim outlives its container, the name can be
// taken again, and the image can be removed.

var (
	crashBinOnce sync.Once
	crashBin     string
	crashBinErr  error
)

// crashBerth is berth built with the berth_crashpoints tag.
func crashBerth(t *testing.T) string {
	t.Helper()
	crashBinOnce.Do(func() {
		crashBin = filepath.Join(filepath.Dir(berthBin), "berth-crash")
		build := exec.Command("go", "build", "-tags", "berth_crashpoints", "-o", crashBin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			crashBinErr = fmt.Errorf("building berth with crashpoints: %v\n%s", err, out)
		}
	})
	if crashBinErr != nil {
		t.Fatal(crashBinErr)
	}
	return crashBin
}

// crashStore is a store for the kill tests and the archive of its image,
// "img" (busybox-static), to load again after each rmi.
func crashStore(t *testing.T) (root, archive string) {
	t.Helper()
	needContainers(t)
	bb, err := testimage.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	archive = filepath.Join(t.TempDir(), "img.tar")
	if err := os.WriteFile(archive, testimage.DockerArchive(testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, bb), Layers: [][]byte{bb}, Tags: []string{"img"}}), 0o644); err != nil {
		t.Fatal(err)
	}
	root = t.TempDir()
	t.Cleanup(func() {
		out, _ := berth(t, root, "ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			if _, err := berth(t, root, "rm", "-f", "-v", id); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return root, archive
}

// runBerth runs bin, killed at point if point is set, and reports whether
// it died of SIGKILL.
func runBerth(t *testing.T, bin, root, point string, args ...string) (killed bool, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
	cmd.Env = os.Environ()
	if point != "" {
		cmd.Env = append(cmd.Env, crashpoint.Env+"="+point)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	killed = errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
	if err != nil && !killed {
		t.Fatalf("berth %v: %v %s", args, err, errb.String())
	}
	return killed, errb.String()
}

var hexID = regexp.MustCompile(`[0-9a-f]{64}`)

// idsIn lists the containers a kill may have left something of: every ID
// in the containers directory, whatever its state.
func idsIn(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		if id := hexID.FindString(e.Name()); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// psContainer is a container as ps -a shows it, with its record.
type psContainer struct {
	ID, Name string
	Running  bool
	ShimPid  int
	Mounts   []string // volume names
}

// psAll lists the containers with ps -a and checks that each is whole:
// inspect knows it and its record is there.
func psAll(t *testing.T, root string) map[string]psContainer {
	t.Helper()
	out, err := berth(t, root, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]psContainer{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			t.Fatalf("ps -a line %q", line)
		}
		if _, err := berth(t, root, "inspect", f[0]); err != nil {
			t.Errorf("ps -a shows %s, which inspect does not know: %v", f[0], err)
		}
		c := psContainer{ID: f[0], Name: f[1], Running: f[2] == "running"}
		var rec struct {
			State  struct{ Shim *struct{ Pid int } }
			Mounts []struct{ Name string }
		}
		b, err := os.ReadFile(filepath.Join(root, "containers", f[0], "container.json"))
		if err != nil || json.Unmarshal(b, &rec) != nil {
			t.Fatalf("container %s shown without a whole record: %v", f[0], err)
		}
		for _, d := range []string{"rootfs", "upper", "work"} {
			if _, err := os.Stat(filepath.Join(root, "containers", f[0], d)); err != nil {
				t.Errorf("container %s shown without its %s", f[0], d)
			}
		}
		if rec.State.Shim != nil {
			c.ShimPid = rec.State.Shim.Pid
		}
		for _, mp := range rec.Mounts {
			c.Mounts = append(c.Mounts, mp.Name)
		}
		all[c.ID] = c
	}
	return all
}

// shimPids are the live shims of bin: `bin shim` processes.
func shimPids(bin string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, []byte(bin+"\x00shim\x00")) {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// leftOnHost lists what container id still holds on the host: mounts,
// network namespace, veth, address, runc state (berth's defaults put them
// under /run/berth).
func leftOnHost(t *testing.T, root, id string) []string {
	t.Helper()
	var out []string
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], filepath.Join(root, "containers")) && strings.Contains(f[4], id) {
			out = append(out, "mount "+f[4])
		}
	}
	if _, err := os.Stat(filepath.Join("/run/berth/netns", id)); err == nil {
		out = append(out, "network namespace")
	}
	if _, err := netlink.LinkByName("bth" + id[:12]); err == nil {
		out = append(out, "veth")
	}
	ipams, _ := filepath.Glob("/run/berth/ipam/*/*")
	for _, p := range ipams {
		if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), id+" ") {
			out = append(out, "address "+filepath.Base(p))
		}
	}
	if _, err := os.Stat(filepath.Join("/run/berth/runc", id)); err == nil {
		out = append(out, "runc state")
	}
	return out
}

// afterKill checks the store after a kill that may have left ids, and
// returns the containers ps -a shows once system check has repaired it.
func afterKill(t *testing.T, bin, root string, ids []string) map[string]psContainer {
	t.Helper()
	psAll(t, root) // before any repair: nothing broken shows
	settle(t, root)
	out, err := berth(t, root, "system", "check")
	if err != nil || !strings.Contains(out, " 0 problems") {
		t.Fatalf("system check after the kill: %v\n%s", err, out)
	}
	all := psAll(t, root)
	// The directory holds the containers ps shows, their names and
	// nothing else.
	entries, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, e := range entries {
		if _, ok := all[e.Name()]; !ok && e.Name() != ".names" {
			t.Errorf("left in the containers directory: %s", e.Name())
		}
	}
	names, _ := os.ReadDir(filepath.Join(root, "containers", ".names"))
	for _, e := range names {
		owner, _ := os.Readlink(filepath.Join(root, "containers", ".names", e.Name()))
		if c, ok := all[owner]; !ok || c.Name != e.Name() {
			t.Errorf("name %s left pointing at %s", e.Name(), owner)
		}
	}
	// No anonymous volume without its container.
	used := map[string]bool{}
	var shims []int
	for _, c := range all {
		for _, v := range c.Mounts {
			used[v] = true
		}
		if c.Running {
			shims = append(shims, c.ShimPid)
		}
	}
	vols, _ := berth(t, root, "volume", "ls", "-q")
	for _, v := range strings.Fields(vols) {
		if !used[v] {
			t.Errorf("volume %s left by the kill", v)
		}
	}
	for _, id := range ids {
		if c, ok := all[id]; ok && c.Running {
			continue
		}
		if got := leftOnHost(t, root, id); len(got) > 0 {
			t.Errorf("container %s left on the host: %v", id[:12], got)
		}
	}
	// A shim whose starter died before handing it the container exits
	// by itself; the others are those of running containers.
	sort.Ints(shims)
	deadline := time.Now().Add(10 * time.Second)
	for fmt.Sprint(shimPids(bin)) != fmt.Sprint(shims) {
		if time.Now().After(deadline) {
			t.Fatalf("shims %v, running containers' shims %v", shimPids(bin), shims)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return all
}

// settle waits until no process holds a container's lock. A starter
// killed after handing its container to the shim leaves the shim to
// finish the start, under the lock, until it has recorded the container
// as running: what the test sees before then (a stopped container with
// mounts and a network) is a start under way, not a leftover.
func settle(t *testing.T, root string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := lockedContainers(t, root)
		if len(busy) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers still locked 10s after the kill: %v", busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedContainers lists the entries of the containers directory whose
// lock another process holds.
func lockedContainers(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	var busy []string
	for _, e := range entries {
		f, err := os.Open(filepath.Join(root, "containers", e.Name(), "lock"))
		if err != nil {
			continue // no lock file: not a container, or gone meanwhile
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
			busy = append(busy, e.Name())
		}
		f.Close()
	}
	return busy
}

// startOver checks that the name is free again (once its holder, if any,
// is removed), then removes every container and the image, and loads the
// image anew.
func startOver(t *testing.T, root, archive string, all map[string]psContainer) {
	t.Helper()
	var holder string
	for id, c := range all {
		if c.Name == "web" {
			holder = id
		}
	}
	args := []string{"create", "--name", "web", "-v", "/scratch", "img", "sleep", "1000"}
	_, err := berth(t, root, args...)
	if holder != "" {
		if err == nil || !strings.Contains(err.Error(), "is already in use") {
			t.Fatalf("create with the name of %s: %v", holder[:12], err)
		}
		// The container that was made keeps its image and layers.
		if _, err := berth(t, root, "rmi", "img"); err == nil || !strings.Contains(err.Error(), holder[:12]) {
			t.Fatalf("rmi of the image of %s: %v", holder[:12], err)
		}
		if _, err := berth(t, root, "rm", "-f", "-v", "web"); err != nil {
			t.Fatal(err)
		}
		if got := leftOnHost(t, root, holder); len(got) > 0 {
			t.Errorf("rm -f left %v", got)
		}
		_, err = berth(t, root, args...)
	}
	if err != nil {
		t.Fatalf("create with the name again: %v", err)
	}
	out, _ := berth(t, root, "ps", "-aq", "--no-trunc")
	for _, id := range strings.Fields(out) {
		if _, err := berth(t, root, "rm", "-f", "-v", id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := berth(t, root, "rmi", "img"); err != nil {
		t.Fatalf("rmi after the kill: %v", err)
	}
	out, err = berth(t, root, "system", "check")
	if err != nil || !strings.Contains(out, "Checked 0 blobs, 0 layers, 0 images: 0 problems.") {
		t.Fatalf("store after removing everything: %v %s", err, out)
	}
	if vols, _ := berth(t, root, "volume", "ls", "-q"); vols != "" {
		t.Errorf("volumes after removing everything: %s", vols)
	}
	if _, err := berth(t, root, "load", "-q", "-i", archive); err != nil {
		t.Fatal(err)
	}
}

func TestContainerCommandsKilledAtEachStep(t *testing.T) {
	root, archive := crashStore(t)
	bin := crashBerth(t)
	if _, err := berth(t, root, "load", "-q", "-i", archive); err != nil {
		t.Fatal(err)
	}
	run := []string{"run", "-d", "--name", "web", "-v", "/scratch", "img", "sleep", "1000"}
	create := append([]string{"create"}, run[2:]...)
	for _, tc := range []struct {
		point string
		args  []string
	}{
		{"create-ref", create},
		{"create-dir", create},
		{"create-name", create},
		{"create-record", create},
		{"create-volumes", create},
		{"create-done", create},
		{"start-shim", run},
		{"start-prepared", run},
		{"start-configured", run},
		{"remove-teardown", []string{"rm", "-f", "-v", "web"}},
		{"remove-unlinked", []string{"rm", "-f", "-v", "web"}},
		{"remove-done", []string{"rm", "-f", "-v", "web"}},
	} {
		t.Run(tc.point, func(t *testing.T) {
			if tc.args[0] == "rm" {
				if _, err := berth(t, root, run...); err != nil {
					t.Fatal(err)
				}
			}
			before := idsIn(t, root)
			if killed, stderr := runBerth(t, bin, root, tc.point, tc.args...); !killed {
				t.Fatalf("berth %v did not die at %s: %s", tc.args, tc.point, stderr)
			}
			ids := append(before, idsIn(t, root)...)
			all := afterKill(t, bin, root, ids)
			startOver(t, root, archive, all)
		})
	}
}

func TestRunKilledAtRandomPoints(t *testing.T) {
	root, archive := crashStore(t)
	if _, err := berth(t, root, "load", "-q", "-i", archive); err != nil {
		t.Fatal(err)
	}
	args := []string{"--root", root, "run", "-d", "--name", "web", "-v", "/scratch", "img", "sleep", "1000"}
	// How long a whole run -d takes here: the kills land within it.
	began := time.Now()
	if out, err := exec.Command(berthBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("run -d: %v %s", err, out)
	}
	took := time.Since(began)
	startOver(t, root, archive, psAll(t, root))
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for round := range 8 {
		after := time.Duration(rng.Int63n(int64(took)))
		cmd := exec.Command(berthBin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Logf("round %d: killed after %v of %v", round, after, took)
		all := afterKill(t, berthBin, root, idsIn(t, root))
		startOver(t, root, archive, all)
	}
}
