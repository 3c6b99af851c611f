package ctr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/crashpoint"
	"github.com/berth-dev/berth/errdefs"
)

// These tests kill a berth process (the test binary playing one) at each
// crashpoint of a create, a start and a removal, and check that what is
// left is either whole or cleaned up: no half-made container in a
// listing, nothing mounted, no namespace, veth, address or runc state, no
// shim of a container that is not running, and the name free again.

const (
	// crashCLIEnv holds a crashSpec: the test binary runs it and dies.
	crashCLIEnv = "BERTH_RUNTIME_TEST_KILLED"
	// shimCrashEnv names where a shim dies ("POINT"), or pauses
	// ("POINT:DIR", see setCrash).
	shimCrashEnv = "BERTH_RUNTIME_TEST_SHIM_CRASH_AT"
	// markEnv marks the shims of one test's manager, to find them.
	markEnv = "BERTH_RUNTIME_TEST_MARK"
)

// crashSpec is one berth command to run and kill.
type crashSpec struct {
	Dir     string
	Options ctr.Options
	Op      string // "create", "run" (create and start detached), "rm" (rm -f -v)
	Point   string // where to die; "" runs to the end
	// Pause, if set, is a directory: the command pauses at Point instead
	// of dying (see pauseAt).
	Pause  string
	Create ctr.CreateOptions
	Ref    string
}

// cliKilled is the berth command of a crashSpec.
func cliKilled(spec string) int {
	var s crashSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	setCrash(s.Point, s.Pause)
	ctx := context.Background()
	m, err := ctr.Open(ctx, s.Dir, s.Options)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch s.Op {
	case "create":
		_, err = m.Create(ctx, s.Create)
	case "run":
		var c *ctr.Container
		if c, err = m.Create(ctx, s.Create); err == nil {
			_, err = m.Start(ctx, c.ID, nil)
		}
	case "rm":
		err = m.Remove(ctx, s.Ref, ctr.RemoveOptions{Force: true, Volumes: true})
	default:
		err = fmt.Errorf("unknown op %q", s.Op)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// setCrash makes this process die at point, or pause there if pause
// names a directory.
func setCrash(point, pause string) {
	if pause == "" {
		crashpoint.KillAt(point)
		return
	}
	// Not SIGSTOP: a process stopping itself may run on a little before
	// it stops, past the point.
	crashpoint.Set(func(n string) {
		if n != point {
			return
		}
		_ = os.WriteFile(filepath.Join(pause, "reached"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		for {
			if _, err := os.Stat(filepath.Join(pause, "go-on")); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// paused waits until a process reaches its pause in dir, and returns its
// pid.
func paused(t *testing.T, dir string) int {
	t.Helper()
	var pid int
	waitFor(t, "the pause", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "reached"))
		if err == nil {
			pid, err = strconv.Atoi(string(b))
		}
		return err == nil
	})
	return pid
}

// goOn lets a process paused in dir go on.
func goOn(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "go-on"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// gone waits until process pid, a child of this process, has exited and
// been reaped: only then are its descriptors, and the locks they hold,
// surely gone (a zombie leader may still have threads holding them).
func gone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("process %d to exit", pid), func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return err != nil
	})
}

// crashManager is a manager whose shims carry a mark, and maybe die or
// pause at a point (shimCrash, see shimCrashEnv).
func crashManager(t *testing.T, shimCrash string) (*ctr.Manager, ctr.Options) {
	t.Helper()
	var mark string
	m, opts := newManagerWith(t, func(o *ctr.Options) {
		mark = strconv.Itoa(os.Getpid()) + "-" + filepath.Base(t.TempDir())
		o.ShimEnv = append(o.ShimEnv, markEnv+"="+mark)
		if shimCrash != "" {
			o.ShimEnv = append(o.ShimEnv, shimCrashEnv+"="+shimCrash)
		}
	})
	shimMarks[m.Dir()] = mark
	return m, opts
}

// shimMarks are the marks of the managers' shims, by directory.
var shimMarks = map[string]string{}

// startBerth starts the berth command of spec.
func startBerth(t *testing.T, s crashSpec) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), crashCLIEnv+"="+string(b))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &stderr
}

// killedAt runs op in a berth process that dies at point ("" runs it to
// the end) and returns once it is gone.
func killedAt(t *testing.T, m *ctr.Manager, opts ctr.Options, op, point string, o ctr.CreateOptions, ref string) {
	t.Helper()
	cmd, stderr := startBerth(t, crashSpec{Dir: m.Dir(), Options: opts, Op: op, Point: point, Create: o, Ref: ref})
	err := cmd.Wait()
	if point == "" {
		if err != nil {
			t.Fatalf("berth %s: %v %s", op, err, stderr)
		}
		return
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("berth %s did not die at %s: %v %s", op, point, err, stderr)
	}
}

// leftBehind lists what of container id is still on the host besides its
// directory: mounts, network namespace, veth, address, runc state.
func leftBehind(t *testing.T, m *ctr.Manager, id string) []string {
	t.Helper()
	var out []string
	for _, mp := range mountsUnder(t, m.Dir()) {
		if strings.Contains(mp, id) {
			out = append(out, "mount "+mp)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "netns", id)); err == nil {
		out = append(out, "network namespace")
	}
	if _, err := netlink.LinkByName("bth" + id[:12]); err == nil {
		out = append(out, "veth")
	}
	ipams, _ := filepath.Glob(filepath.Join(runDir, "ipam", "*", "*"))
	for _, p := range ipams {
		if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), id+" ") {
			out = append(out, "address "+filepath.Base(p))
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "runc", id)); err == nil {
		out = append(out, "runc state")
	}
	return out
}

// shimsOf returns the pids of the live shims of m's containers.
func shimsOf(t *testing.T, m *ctr.Manager) []int {
	t.Helper()
	want := []byte(markEnv + "=" + shimMarks[m.Dir()] + "\x00")
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, want) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(stat), ") Z ") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// shimsSettle waits until the live shims are exactly those of the running
// containers: a shim whose starter died exits by itself.
func shimsSettle(t *testing.T, m *ctr.Manager) {
	t.Helper()
	var want []int
	list, err := m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.State.Running {
			want = append(want, c.State.Shim.Pid)
		}
	}
	waitFor(t, fmt.Sprintf("the shims to be those of the running containers %v", want), func() bool {
		return fmt.Sprint(shimsOf(t, m)) == fmt.Sprint(want)
	})
}

// checkTidy checks that the containers directory holds the listed
// containers and nothing else, that every name belongs to one of them,
// and that every anonymous volume is one of theirs.
func checkTidy(t *testing.T, m *ctr.Manager, list []*ctr.Container) {
	t.Helper()
	byID := map[string]*ctr.Container{}
	used := map[string]bool{}
	for _, c := range list {
		byID[c.ID] = c
		for _, mp := range c.Mounts {
			used[mp.Name] = true
		}
	}
	entries, err := os.ReadDir(m.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".names" && byID[e.Name()] == nil {
			t.Errorf("left in the containers directory: %s", e.Name())
		}
	}
	names, _ := os.ReadDir(filepath.Join(m.Dir(), ".names"))
	for _, e := range names {
		owner, _ := os.Readlink(filepath.Join(m.Dir(), ".names", e.Name()))
		if c := byID[owner]; c == nil || c.Name != e.Name() {
			t.Errorf("name %s points at %s, no container of that name", e.Name(), owner)
		}
	}
	vols, err := m.Volumes().List()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols {
		if v.Anonymous() && !used[v.Name] {
			t.Errorf("anonymous volume %s left by a killed create", v.Name)
		}
	}
}

// nameIsFree checks that a container named name can be made (after
// removing the one that has it, if any) and removes it again.
func nameIsFree(t *testing.T, m *ctr.Manager, o ctr.CreateOptions, holder *ctr.Container) {
	t.Helper()
	ctx := context.Background()
	c, err := m.Create(ctx, o)
	if holder != nil {
		if !errdefs.IsConflict(err) {
			t.Fatalf("create with the name of %s: %v", holder.ShortID(), err)
		}
		if err := m.Remove(ctx, holder.ID, ctr.RemoveOptions{Force: true, Volumes: true}); err != nil {
			t.Fatal(err)
		}
		if got := leftBehind(t, m, holder.ID); len(got) > 0 {
			t.Errorf("rm -f left %v", got)
		}
		c, err = m.Create(ctx, o)
	}
	if err != nil {
		t.Fatalf("create with the name again: %v", err)
	}
	if err := m.Remove(ctx, c.ID, ctr.RemoveOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateKilledMidway(t *testing.T) {
	for _, point := range []string{"create-dir", "create-name", "create-record", "create-volumes", ""} {
		t.Run("at="+point, func(t *testing.T) {
			ctx := context.Background()
			m, opts := crashManager(t, "")
			o := busybox("sleep", "1000")
			o.Name = "victim"
			o.ImageConfig.Volumes = map[string]struct{}{"/data": {}}
			o.Volumes = []string{"/scratch", "keep:/keep"}
			killedAt(t, m, opts, "create", point, o, "")
			list, err := m.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if done := point == ""; done != (len(list) == 1) {
				t.Fatalf("containers after a create killed at %q: %d", point, len(list))
			}
			checkTidy(t, m, list)
			var holder *ctr.Container
			if len(list) == 1 {
				holder = list[0]
				if holder.Name != "victim" || holder.State.Status != ctr.StatusCreated || len(holder.Mounts) != 3 {
					t.Fatalf("the container made: %+v", holder)
				}
				for _, d := range []string{"rootfs", "upper", "work", "container.json"} {
					if _, err := os.Stat(filepath.Join(holder.Dir(), d)); err != nil {
						t.Errorf("the container made lacks %s", d)
					}
				}
			}
			nameIsFree(t, m, o, holder)
			shimsSettle(t, m)
		})
	}
}

func TestRunKilledMidway(t *testing.T) {
	for _, tc := range []struct{ point, then string }{
		{"start-shim", "reap"},
		{"start-prepared", "reap"},
		{"start-prepared", "rm"},
		{"start-configured", "reap"},
		{"", "reap"},
	} {
		t.Run("at="+tc.point+"/then="+tc.then, func(t *testing.T) {
			ctx := context.Background()
			m, opts := crashManager(t, "")
			o := busybox("sleep", "1000")
			o.Name = "victim"
			o.Network = "bridge"
			killedAt(t, m, opts, "run", tc.point, o, "")
			list, err := m.List(ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("after a run killed at %q: %d containers, %v", tc.point, len(list), err)
			}
			c := list[0]
			if handed := tc.point == "start-configured" || tc.point == ""; handed {
				// The shim has the container: it runs, whoever started it.
				waitFor(t, "the container to run", func() bool {
					c, err = m.Get(ctx, c.ID)
					return err == nil && c.State.Running
				})
			} else if c.State.Status != ctr.StatusCreated {
				t.Fatalf("a container whose start was killed before the hand-over: %+v", c.State)
			}
			if tc.then == "rm" {
				// rm alone undoes what the start set up, recorded or not.
				nameIsFree(t, m, o, c)
				shimsSettle(t, m)
				return
			}
			done, err := m.Reap(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.point == "start-prepared"; want != (len(done) == 1 && strings.Contains(done[0], "tore down container "+c.ShortID())) {
				t.Errorf("reaped %q", done)
			}
			if c, err = m.Get(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			if !c.State.Running {
				if got := leftBehind(t, m, c.ID); len(got) > 0 {
					t.Errorf("left by the killed start: %v", got)
				}
			}
			list, _ = m.List(ctx)
			checkTidy(t, m, list)
			shimsSettle(t, m)
			if !c.State.Running {
				// A container left created starts as any other.
				if _, err := m.Start(ctx, c.ID, nil); err != nil {
					t.Fatalf("start after the killed one: %v", err)
				}
				if c, err = m.Get(ctx, c.ID); err != nil || !c.State.Running || c.NetworkSettings.IPAddress() == "" {
					t.Fatalf("after start: %+v %v", c, err)
				}
			}
			nameIsFree(t, m, o, c)
			shimsSettle(t, m)
		})
	}
}

// A start killed after handing the container to its shim leaves the lock
// with the shim: a reaper that comes before the shim has recorded the
// container as running leaves it alone, and the container then runs.
func TestReapSparesAShimStarting(t *testing.T) {
	ctx := context.Background()
	pause := t.TempDir()
	m, opts := crashManager(t, "shim-started:"+pause)
	// Whatever happens, the shim goes on before the containers are removed.
	t.Cleanup(func() { goOn(t, pause) })
	o := busybox("sleep", "1000")
	o.Network = "bridge"
	killedAt(t, m, opts, "run", "start-configured", o, "")
	paused(t, pause)
	list, err := m.List(ctx)
	if err != nil || len(list) != 1 || list[0].State.Running {
		t.Fatalf("with the shim paused before it recorded the container: %v %v", list, err)
	}
	id := list[0].ID
	if done, err := m.Reap(ctx); err != nil || len(done) > 0 {
		t.Fatalf("reaped a container its shim is starting: %q %v", done, err)
	}
	if len(leftBehind(t, m, id)) == 0 {
		t.Fatal("the reaper tore down a container its shim is starting")
	}
	goOn(t, pause)
	waitFor(t, "the container to run", func() bool {
		c, err := m.Get(ctx, id)
		return err == nil && c.State.Running
	})
	if got := execOut(t, m, id, "sh", "-c", "ip -4 -o addr show eth0 | grep -c inet"); got != "1\n" {
		t.Errorf("the container's network after the reaper came by: %q", got)
	}
}

// A create under way in another process keeps its name and directory:
// neither a listing nor a reap takes them, until the creator dies.
func TestReapSparesALiveCreate(t *testing.T) {
	ctx := context.Background()
	m, opts := crashManager(t, "")
	o := busybox("true")
	o.Name = "victim"
	o.ImageConfig.Volumes = map[string]struct{}{"/data": {}}
	pause := t.TempDir()
	cmd, stderr := startBerth(t, crashSpec{Dir: m.Dir(), Options: opts, Op: "create", Point: "create-volumes", Pause: pause, Create: o})
	paused(t, pause)
	pending, _ := filepath.Glob(filepath.Join(m.Dir(), ".new-*"))
	if len(pending) != 1 {
		entries, _ := os.ReadDir(m.Dir())
		t.Fatalf("no container being made: %v %v", pending, entries)
	}
	for range 2 {
		if done, err := m.Reap(ctx); err != nil || len(done) > 0 {
			t.Fatalf("reaped a create under way: %q %v", done, err)
		}
	}
	if _, err := os.Stat(pending[0]); err != nil {
		t.Fatalf("a create under way lost its directory: %v", err)
	}
	if _, err := m.Create(ctx, o); !errdefs.IsConflict(err) {
		t.Fatalf("took the name of a create under way: %v", err)
	}
	if vols, _ := m.Volumes().List(); len(vols) != 1 {
		t.Fatalf("volumes of the create under way: %v", vols)
	}
	cmd.Process.Kill()
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the create was not killed: %s", stderr)
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("after the creator died: %v %v", list, err)
	}
	checkTidy(t, m, list)
	nameIsFree(t, m, o, nil)
}

func TestRemoveKilledMidway(t *testing.T) {
	for _, point := range []string{"remove-teardown", "remove-unlinked"} {
		t.Run("at="+point, func(t *testing.T) {
			ctx := context.Background()
			m, opts := crashManager(t, "")
			o := busybox("sleep", "1000")
			o.Name = "victim"
			o.Network = "bridge"
			o.Volumes = []string{"/scratch"}
			c := startDetached(t, m, o)
			killedAt(t, m, opts, "rm", point, ctr.CreateOptions{}, "victim")
			list, err := m.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var holder *ctr.Container
			if point == "remove-teardown" {
				if len(list) != 1 || list[0].State.Status != ctr.StatusExited {
					t.Fatalf("a container whose removal was killed before it went: %v", list)
				}
				holder = list[0]
			} else if len(list) != 0 {
				t.Fatalf("a container whose removal was killed after it went: %v", list)
			}
			if got := leftBehind(t, m, c.ID); len(got) > 0 {
				t.Errorf("left by the killed removal: %v", got)
			}
			// rm -v was asked: the anonymous volume goes with the
			// container, killed or not (checkTidy).
			checkTidy(t, m, list)
			shimsSettle(t, m)
			nameIsFree(t, m, o, holder)
		})
	}
}

// An --rm container whose shim is killed after taking it out of sight,
// before giving back its network, is finished off by the next listing.
func TestAutoRemoveShimKilled(t *testing.T) {
	ctx := context.Background()
	m, _ := crashManager(t, "exited-unlinked")
	o := busybox("sleep", "1000")
	o.Network = "bridge"
	o.AutoRemove = true
	o.Volumes = []string{"/scratch"}
	c := startDetached(t, m, o)
	if err := m.Kill(ctx, c.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone(t, c.State.Shim.Pid)
	if _, err := os.Stat(filepath.Join(m.Dir(), ".rm-"+c.ID)); err != nil {
		t.Fatalf("the shim did not die where it should: %v", err)
	}
	if len(leftBehind(t, m, c.ID)) == 0 {
		t.Fatal("the killed shim left nothing to clean up")
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("after the shim died: %v %v", list, err)
	}
	if got := leftBehind(t, m, c.ID); len(got) > 0 {
		t.Errorf("left after the listing: %v", got)
	}
	checkTidy(t, m, list) // its anonymous volume went too, as --rm's do
}

// An --rm container whose shim died is removed by the listing that finds
// it, and a volume command lists under the volume lock: the removal must
// not wait for that lock, held by its own caller.
func TestAutoRemoveFoundByAVolumeCommand(t *testing.T) {
	ctx := context.Background()
	m, _ := crashManager(t, "")
	o := busybox("sleep", "1000")
	o.AutoRemove = true
	o.Volumes = []string{"/scratch"}
	c := startDetached(t, m, o)
	syscall.Kill(c.State.Shim.Pid, syscall.SIGKILL)
	gone(t, c.State.Shim.Pid)
	done := make(chan error, 1)
	go func() {
		_, _, err := m.PruneVolumes(ctx, false)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("volume prune hangs on an --rm container whose shim died")
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("after volume prune: %v %v", list, err)
	}
	if got := leftBehind(t, m, c.ID); len(got) > 0 {
		t.Errorf("left: %v", got)
	}
	checkTidy(t, m, list)
	if vols, _ := m.Volumes().List(); len(vols) != 0 {
		t.Errorf("volumes left: %v", vols)
	}
}

// An --rm container's record is written without a sync: a crash of the
// host may leave its directory with an empty record, or one of NULs (its
// blocks never written). The listing after the reboot removes it as it
// removes a directory without a record, and frees its name.
func TestAutoRemoveRecordLostInCrash(t *testing.T) {
	ctx := context.Background()
	m := newManager(t)
	o := busybox("true")
	o.AutoRemove = true
	o.Name = "lost"
	for _, rec := range []string{"", "\x00\x00\x00\x00"} {
		c, err := m.Create(ctx, o) // the name is free again each time
		if err != nil {
			t.Fatalf("record %q: %v", rec, err)
		}
		dir := filepath.Join(m.Dir(), c.ID)
		if err := os.WriteFile(filepath.Join(dir, "container.json"), []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour) // made before the reboot
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
		if got, err := m.Get(ctx, c.ID); got != nil {
			t.Fatalf("record %q: a container without a record found: %v", rec, err)
		}
		list, err := m.List(ctx)
		if err != nil || len(list) != 0 {
			t.Fatalf("record %q: listed %v, %v", rec, list, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("record %q: directory left: %v", rec, err)
		}
		if got := leftBehind(t, m, c.ID); len(got) > 0 {
			t.Errorf("record %q: left: %v", rec, got)
		}
	}
	// Any other container's record is synced: an empty one is not what
	// a crash left, and the container is not deleted over it.
	o.AutoRemove = false
	c, err := m.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(m.Dir(), c.ID)
	record := filepath.Join(dir, "container.json")
	saved, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := m.List(ctx); err == nil {
		t.Error("an empty record of a container made with syncs was not an error")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the container was deleted: %v", err)
	}
	if err := os.WriteFile(record, saved, 0o600); err != nil { // for the cleanup
		t.Fatal(err)
	}
}

// Get of an --rm container whose shim died removes it (reconcile) and says
// so as any lookup of a container that is not there does: NotFound, worded
// as Docker words it, never a nil container with a nil error; so do the
// commands built on Get (issue 16).
func TestGetAutoRemovedShimDied(t *testing.T) {
	ctx := context.Background()
	m, _ := crashManager(t, "")
	ops := map[string]func(ref string) error{
		"get":  func(ref string) error { _, err := m.Get(ctx, ref); return err },
		"kill": func(ref string) error { return m.Kill(ctx, ref, syscall.SIGKILL) },
		"exec": func(ref string) error {
			_, err := m.Exec(ctx, ref, ctr.ExecOptions{Cmd: []string{"true"}}, ctr.Streams{})
			return err
		},
	}
	for name, op := range ops {
		o := busybox("sleep", "1000")
		o.AutoRemove = true
		o.Network = "none"
		c := startDetached(t, m, o)
		syscall.Kill(c.State.Shim.Pid, syscall.SIGKILL)
		gone(t, c.State.Shim.Pid)
		err := op(c.ID)
		if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "No such container: "+c.ID {
			t.Errorf("%s of an --rm container whose shim died: %v, want No such container: %s", name, err, c.ID)
		}
		if _, err := m.Get(ctx, c.ID); !errdefs.IsNotFound(err) {
			t.Errorf("%s: still there: %v", name, err)
		}
	}
}
