package ctr_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/internal/testimage"
	"github.com/berth-dev/berth/errdefs"
)

// onlyStdio checks `ls -l /proc/self/fd` output: 0, 1 and 2, and nothing
// else but ls's own handle on the directory it lists.
func onlyStdio(t *testing.T, what, out string) {
	t.Helper()
	fds := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !regexp.MustCompile(`^l[rwx-]{9}$`).MatchString(f[0]) {
			continue
		}
		target := ""
		if len(f) >= 11 && f[9] == "->" {
			target = f[10]
		}
		fds[f[8]] = target
	}
	for fd, target := range fds {
		if n, _ := strconv.Atoi(fd); n <= 2 {
			continue
		}
		// ls's own handle on the directory: gone by the time it reads
		// the link, or naming the directory.
		if target != "" && !regexp.MustCompile(`^/proc/[0-9]+/fd$`).MatchString(target) {
			t.Errorf("%s: descriptor %s -> %s leaked into the container", what, fd, target)
		}
	}
	if fds["0"] == "" || fds["1"] == "" || fds["2"] == "" || len(fds) != 4 {
		t.Errorf("%s: descriptors %v:\n%s", what, fds, out)
	}
}

func TestOnlyStdioInside(t *testing.T) {
	m := newManager(t)
	for _, mode := range []string{"none", "bridge"} {
		o := busybox("ls", "-l", "/proc/self/fd")
		o.Network = mode
		out, _, _ := run(t, m, o)
		onlyStdio(t, "network "+mode, out)
	}
	o := busybox("ls", "-l", "/proc/self/fd")
	o.Tty, o.OpenStdin = true, true
	out, _, _ := run(t, m, o)
	onlyStdio(t, "with a terminal", strings.ReplaceAll(out, "\r", ""))
	// An exec'd process too.
	c := startDetached(t, m, busybox("sleep", "1000"))
	onlyStdio(t, "exec", execOut(t, m, c.ID, "ls", "-l", "/proc/self/fd"))
}

func TestWorkdirInProcRefused(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	for _, dir := range []string{"/proc/self/fd/7", "/proc/1/cwd", "/proc/thread-self/fd/3", "relative"} {
		o := busybox("true")
		o.WorkingDir = dir
		if _, err := m.Create(ctx, o); !errdefs.IsInvalid(err) {
			t.Errorf("-w %s: %v", dir, err)
		}
	}
	// An image whose WORKDIR leads into /proc through a symlink.
	layer := filepath.Join(t.TempDir(), "fs")
	if err := testimage.FileLayer(layer, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self/fd/7", filepath.Join(layer, "work")); err != nil {
		t.Fatal(err)
	}
	o := busybox("true")
	o.Layers = append(o.Layers, layer)
	o.ImageConfig.WorkingDir = "/work"
	c, err := m.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, c.ID, nil); !errdefs.IsInvalid(err) || !strings.Contains(err.Error(), "/proc") {
		t.Errorf("WORKDIR through a symlink into /proc: %v", err)
	}
	// exec -w too.
	c = startDetached(t, m, busybox("sleep", "1000"))
	for _, dir := range []string{"/proc/self/fd/3", "/proc/1/root/proc/self/cwd"} {
		if _, err := m.Exec(ctx, c.ID, ctr.ExecOptions{Cmd: []string{"pwd"}, WorkingDir: dir}, ctr.Streams{}); !errdefs.IsInvalid(err) {
			t.Errorf("exec -w %s: %v", dir, err)
		}
	}
	execOut(t, m, c.ID, "ln", "-s", "/proc/self/fd/4", "/tmp/fdlink")
	if _, err := m.Exec(ctx, c.ID, ctr.ExecOptions{Cmd: []string{"pwd"}, WorkingDir: "/tmp/fdlink"}, ctr.Streams{}); !errdefs.IsInvalid(err) {
		t.Errorf("exec -w through a symlink the container made: %v", err)
	}
}

func TestBindSourceSymlinkSwap(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	base := t.TempDir()
	good, evil := filepath.Join(base, "good"), filepath.Join(base, "evil")
	for dir, file := range map[string]string{good: "good-file", evil: "evil-file"} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, "src")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	o := busybox("sleep", "1000")
	o.Volumes = []string{link + ":/data", base + "/made-on-demand:/new:ro"}
	c := startDetached(t, m, o)
	// Swap the link: the container keeps what was resolved at start.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(evil, link); err != nil {
		t.Fatal(err)
	}
	if out := execOut(t, m, c.ID, "ls", "/data"); out != "good-file\n" {
		t.Errorf("after the swap the container sees %q", out)
	}
	// A read-only bind is read-only; a missing source was made, as -v does.
	if out := execOut(t, m, c.ID, "sh", "-c", "touch /new/x 2>&1; echo $?"); !strings.Contains(out, "Read-only file system") {
		t.Errorf("ro bind: %q", out)
	}
	if fi, err := os.Stat(base + "/made-on-demand"); err != nil || !fi.IsDir() {
		t.Errorf("missing -v source not made: %v", err)
	}
	// Writes reach the resolved directory, never the swapped-in one.
	execOut(t, m, c.ID, "touch", "/data/written")
	if _, err := os.Stat(filepath.Join(good, "written")); err != nil {
		t.Errorf("write did not reach the source: %v", err)
	}
	if _, err := os.Stat(filepath.Join(evil, "written")); err == nil {
		t.Error("write reached the swapped-in directory")
	}
	// rm -f unmounts the staged bind and never deletes through it.
	if err := m.Remove(ctx, c.ID, ctr.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(good, "good-file")); err != nil {
		t.Errorf("the bind source lost its files on rm: %v", err)
	}
}

// capEff reads a hex capability mask from /proc/<pid>/status output.
func statusField(status, field string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestDefaultsAsDocker(t *testing.T) {
	m := newManager(t)
	status, _, _ := run(t, m, busybox("cat", "/proc/self/status"))
	// Docker's 14 default capabilities.
	if got := statusField(status, "CapEff"); got != "00000000a80425fb" {
		t.Errorf("CapEff %s, want Docker's 00000000a80425fb", got)
	}
	if got := statusField(status, "CapBnd"); got != "00000000a80425fb" {
		t.Errorf("CapBnd %s", got)
	}
	if got := statusField(status, "NoNewPrivs"); got != "0" {
		t.Errorf("NoNewPrivs %s by default, want 0 as Docker", got)
	}
	if got := statusField(status, "Seccomp"); got != "2" {
		t.Errorf("Seccomp %s, want filter mode 2", got)
	}
	o := busybox("cat", "/proc/self/status")
	o.SecurityOpt = []string{"no-new-privileges", "seccomp=unconfined"}
	status, _, _ = run(t, m, o)
	if statusField(status, "NoNewPrivs") != "1" || statusField(status, "Seccomp") != "0" {
		t.Errorf("with no-new-privileges, seccomp=unconfined: %s %s", statusField(status, "NoNewPrivs"), statusField(status, "Seccomp"))
	}
	// Seccomp refuses what needs CAP_SYS_ADMIN, masked paths read empty,
	// /proc/sys is read-only, /dev/shm is there.
	out, errOut, code := run(t, m, busybox("sh", "-c", `
		unshare -n true 2>/dev/null && echo unshare-allowed
		wc -c < /proc/timer_list
		echo 1 > /proc/sys/kernel/hostname 2>/dev/null && echo procsys-writable
		test -d /dev/shm && echo shm
		ulimit -n
		cat /etc/hostname`))
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	lines := strings.Fields(out)
	if code != 0 || len(lines) != 4 || lines[0] != "0" || lines[1] != "shm" || lines[2] != strconv.FormatUint(min(lim.Max, 1<<20), 10) {
		t.Errorf("defaults: %q %q", out, errOut)
	}
	// Docker's environment.
	o = busybox("env")
	o.Tty = true
	o.Env = []string{"A=b"}
	out, _, _ = run(t, m, o)
	for _, want := range []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=", "TERM=xterm", "A=b", "HOME=/root"} {
		if !strings.Contains(out, want) {
			t.Errorf("env lacks %s: %q", want, out)
		}
	}
}

func TestUserReadOnlyLimits(t *testing.T) {
	m := newManager(t)
	o := busybox("sh", "-c", "id; touch /x 2>&1; echo $HOME")
	o.User = "app"
	o.ReadOnly = true
	out, _, _ := run(t, m, o)
	if !strings.Contains(out, "uid=1000(app) gid=1000(app)") || !strings.Contains(out, "Read-only file system") || !strings.HasSuffix(out, "/home/app\n") {
		t.Errorf("-u app --read-only: %q", out)
	}
	o = busybox("id")
	o.User = "nosuchuser"
	c, err := m.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(context.Background(), c.ID, nil); !errdefs.IsInvalid(err) || !strings.Contains(err.Error(), "unable to find user nosuchuser") {
		t.Errorf("unknown user: %v", err)
	}
	// --memory and --cpus reach the cgroup (v1 here, v2 elsewhere).
	o = busybox("sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max")
	o.Memory = 64 << 20
	o.CPUs = 0.5
	out, errOut, code := run(t, m, o)
	if code != 0 || !strings.Contains(out, "67108864") || !strings.Contains(out, "50000") {
		t.Errorf("limits: %q %q", out, errOut)
	}
	for _, bad := range []ctr.CreateOptions{{Memory: 1 << 20}, {CPUs: 1000}, {SecurityOpt: []string{"bogus"}}} {
		bad.Cmd, bad.Network = []string{"true"}, "none"
		if _, err := m.Create(context.Background(), bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("create %+v: %v", bad, err)
		}
	}
}
