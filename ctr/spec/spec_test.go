package spec

import (
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

func TestMergeImageEnv(t *testing.T) {
	tests := []struct {
		user, img, want []string
	}{
		{nil, []string{"PATH=/x", "A=1"}, []string{"PATH=/x", "A=1"}},
		{[]string{"A=2"}, []string{"PATH=/x", "A=1"}, []string{"A=2", "PATH=/x"}},
		{[]string{"B=3"}, []string{"A=1"}, []string{"B=3", "A=1"}},
		{[]string{"A"}, []string{"A=1"}, []string{"A"}},
	}
	for _, tt := range tests {
		if got := MergeImageEnv(tt.user, tt.img); !slices.Equal(got, tt.want) {
			t.Errorf("MergeImageEnv(%q, %q) = %q, want %q", tt.user, tt.img, got, tt.want)
		}
	}
}

func TestProcessEnv(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		env  [][]string
		want []string
	}{
		{"defaults", false, nil, []string{"PATH=" + DefaultPath, "HOSTNAME=h"}},
		{"tty", true, nil, []string{"PATH=" + DefaultPath, "HOSTNAME=h", "TERM=xterm"}},
		{"image path wins", false, [][]string{{"PATH=/bin", "X=1"}}, []string{"PATH=/bin", "HOSTNAME=h", "X=1"}},
		{"exec env last", true, [][]string{{"TERM=vt100"}, {"TERM=dumb", "Y=2"}}, []string{"PATH=" + DefaultPath, "HOSTNAME=h", "TERM=dumb", "Y=2"}},
		{"name alone removes", false, [][]string{{"HOSTNAME"}}, []string{"PATH=" + DefaultPath}},
	}
	for _, tt := range tests {
		if got := ProcessEnv("h", tt.tty, tt.env...); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// writeRoot makes a container root with the given files; a value starting
// with "->" makes a symlink.
func writeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const passwd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
broken:x:notanumber:1::/:/bin/sh
`

const group = `root:x:0:
daemon:x:1:app
app:x:1000:
audio:x:29:app,other
`

func TestResolveUser(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/passwd": passwd, "etc/group": group})
	tests := []struct {
		spec    string
		want    specs.User
		wantErr string
	}{
		{"", specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}, ""},
		{"root", specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}, ""},
		{"app", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 1, 29}}, ""},
		{"1000", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 1, 29}}, ""},
		{"app:audio", specs.User{UID: 1000, GID: 29, AdditionalGids: []uint32{29}}, ""},
		{"app:4242", specs.User{UID: 1000, GID: 4242, AdditionalGids: []uint32{4242}}, ""},
		{"4242", specs.User{UID: 4242, GID: 0, AdditionalGids: []uint32{0}}, ""},
		{"4242:4243", specs.User{UID: 4242, GID: 4243, AdditionalGids: []uint32{4243}}, ""},
		{"nobody", specs.User{}, "unable to find user nobody: no matching entries in passwd file"},
		{"app:nogroup", specs.User{}, "unable to find group nogroup: no matching entries in group file"},
		{"broken", specs.User{}, "unable to find user broken"},
		{"99999999999", specs.User{}, "unable to find user"},
	}
	for _, tt := range tests {
		got, err := ResolveUser(root, tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ResolveUser(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ResolveUser(%q): %v", tt.spec, err)
			continue
		}
		if got.UID != tt.want.UID || got.GID != tt.want.GID || !slices.Equal(got.AdditionalGids, tt.want.AdditionalGids) {
			t.Errorf("ResolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
		}
	}
}

func TestResolveUserStaysInRoot(t *testing.T) {
	// The host's file names a user the image does not have.
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "passwd"), []byte("hostonly:x:4711:4711::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{host + "/passwd", "../../../../../../" + host + "/passwd"} {
		root := writeRoot(t, map[string]string{"etc/passwd": "->" + target})
		if _, err := ResolveUser(root, "hostonly"); err == nil {
			t.Errorf("symlink %s: the host's passwd was read", target)
		}
	}
	// Without passwd, numeric users still work.
	root := writeRoot(t, map[string]string{"bin/sh": ""})
	if u, err := ResolveUser(root, "12:34"); err != nil || u.UID != 12 || u.GID != 34 {
		t.Errorf("no passwd: got %+v, %v", u, err)
	}
}

func TestResolveUserRefusesFIFO(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/group": group})
	if err := unix.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveUser(root, "app"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("FIFO passwd: %v", err)
	}
}

func TestCheckWorkDir(t *testing.T) {
	for _, dir := range []string{"/", "/app", "/procfs", "/srv/proc/self"} {
		if err := CheckWorkDir(dir); err != nil {
			t.Errorf("CheckWorkDir(%q): %v", dir, err)
		}
	}
	for _, dir := range []string{"relative", "", "/proc", "/proc/self/fd/7", "/proc/1/cwd", "/proc/thread-self/fd/3", "/x/../proc/self/fd/5", "//proc//self/fd/5"} {
		if err := CheckWorkDir(dir); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("CheckWorkDir(%q) = %v, want refusal", dir, err)
		}
	}
}

func TestResolveWorkDir(t *testing.T) {
	root := writeRoot(t, map[string]string{
		"proc/.keep":  "",
		"etc/hosts":   "",
		"srv/app/x":   "",
		"link":        "->/srv/app",
		"escape":      "->../../../../tmp",
		"tofd":        "->/proc/self/fd/7",
		"tofd2":       "->../proc/self/cwd",
		"chain":       "->tofd",
		"srv/relproc": "->../../proc/1/cwd",
	})
	tests := []struct {
		dir, want string
		bad       bool
	}{
		{"/srv/app", "/srv/app", false},
		{"/link", "/srv/app", false},
		{"/new/dir", "/new/dir", false},
		{"/escape", "/tmp", false},
		{"/tofd", "", true},
		{"/tofd2", "", true},
		{"/chain", "", true},
		{"/srv/relproc", "", true},
		{"/proc/self/fd/7", "", true},
	}
	for _, tt := range tests {
		got, err := ResolveWorkDir(root, tt.dir, true)
		if tt.bad {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ResolveWorkDir(%q) = %q, %v; want refusal", tt.dir, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolveWorkDir(%q) = %q, %v; want %q", tt.dir, got, err, tt.want)
			continue
		}
		if fi, err := os.Stat(filepath.Join(root, got)); err != nil || !fi.IsDir() {
			t.Errorf("ResolveWorkDir(%q): %s not made inside root: %v", tt.dir, got, err)
		}
	}
	if _, err := os.Stat("/tmp/" + filepath.Base(root)); err == nil {
		t.Error("a directory was made outside root")
	}
}

func TestParseSecurityOpts(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		opts    []string
		nnp     bool
		seccomp string
		wantErr string
	}{
		{nil, false, "", ""},
		{[]string{"no-new-privileges"}, true, "", ""},
		{[]string{"no-new-privileges:true"}, true, "", ""},
		{[]string{"no-new-privileges=false"}, false, "", ""},
		{[]string{"seccomp=unconfined"}, false, "unconfined", ""},
		{[]string{"seccomp:unconfined", "no-new-privileges"}, true, "unconfined", ""},
		{[]string{"seccomp=" + profile}, false, `{"defaultAction":"SCMP_ACT_ALLOW"}`, ""},
		{[]string{"bogus"}, false, "", `invalid --security-opt 1: "bogus"`},
		{[]string{"seccomp=unconfined", "foo=bar"}, false, "", `invalid --security-opt 2: "foo=bar"`},
		{[]string{"no-new-privileges=maybe"}, false, "", `invalid --security-opt 1`},
		{[]string{"seccomp=/nonexistent/profile.json"}, false, "", "opening seccomp profile (/nonexistent/profile.json) failed"},
	}
	for _, tt := range tests {
		s, err := ParseSecurityOpts(tt.opts)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSecurityOpts(%q) error = %v, want %q", tt.opts, err, tt.wantErr)
			}
			continue
		}
		if err != nil || s.NoNewPrivileges != tt.nnp || s.Seccomp != tt.seccomp {
			t.Errorf("ParseSecurityOpts(%q) = %+v, %v", tt.opts, s, err)
		}
	}
}

func findSyscall(s *specs.LinuxSeccomp, name string) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, sc := range s.Syscalls {
		if slices.Contains(sc.Names, name) {
			out = append(out, sc)
		}
	}
	return out
}

func TestDefaultSeccomp(t *testing.T) {
	s, err := DefaultSeccomp(DefaultCapabilities())
	if err != nil {
		t.Fatal(err)
	}
	if s.DefaultAction != specs.ActErrno || s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != 1 {
		t.Errorf("default action %s %v, want EPERM", s.DefaultAction, s.DefaultErrnoRet)
	}
	if goruntime.GOARCH == "amd64" && !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Errorf("architectures %v", s.Architectures)
	}
	for _, allowed := range []string{"read", "execve", "chroot", "clone", "socket"} {
		if len(findSyscall(s, allowed)) == 0 {
			t.Errorf("%s not allowed", allowed)
		}
	}
	// Without CAP_SYS_ADMIN: no mount, clone only without namespace flags,
	// clone3 answers ENOSYS so libcs fall back to clone.
	for _, denied := range []string{"mount", "umount2", "unshare", "setns", "bpf", "ptrace_not_a_syscall", "reboot", "kexec_load"} {
		if len(findSyscall(s, denied)) != 0 {
			t.Errorf("%s allowed without its capability", denied)
		}
	}
	clone := findSyscall(s, "clone")
	if len(clone) != 1 || len(clone[0].Args) != 1 || clone[0].Args[0].Op != specs.OpMaskedEqual || clone[0].Args[0].Value != 2114060288 {
		t.Errorf("clone rule %+v", clone)
	}
	clone3 := findSyscall(s, "clone3")
	if len(clone3) != 1 || clone3[0].Action != specs.ActErrno || *clone3[0].ErrnoRet != 38 {
		t.Errorf("clone3 rule %+v", clone3)
	}
	// ptrace since 4.8: this kernel is newer.
	if len(findSyscall(s, "ptrace")) != 1 {
		t.Errorf("ptrace rules %+v", findSyscall(s, "ptrace"))
	}

	// With CAP_SYS_ADMIN the namespace syscalls open up and clone is free.
	admin, err := DefaultSeccomp(append(DefaultCapabilities(), "CAP_SYS_ADMIN"))
	if err != nil {
		t.Fatal(err)
	}
	if len(findSyscall(admin, "mount")) != 1 || len(findSyscall(admin, "clone3")) != 1 || findSyscall(admin, "clone3")[0].Action != specs.ActAllow {
		t.Error("CAP_SYS_ADMIN rules missing")
	}
}

func TestParseSeccompProfile(t *testing.T) {
	data := `{
		"defaultAction": "SCMP_ACT_ERRNO",
		"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
		            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
		"syscalls": [
			{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
			{"name": "chmod", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
			{"names": ["kexec_load"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}},
			{"names": ["s390only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
			{"names": ["oldkernel"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "3.0"}}
		]
	}`
	s, err := ParseSeccompProfile([]byte(data), DefaultCapabilities())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Syscalls) != 2 || *s.Syscalls[1].ErrnoRet != 13 || s.Syscalls[1].Names[0] != "chmod" {
		t.Errorf("syscalls %+v", s.Syscalls)
	}
	if goruntime.GOARCH == "amd64" && !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
		t.Errorf("architectures %v", s.Architectures)
	}
	for _, bad := range []string{`{`, `{"architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86"}]}`,
		`{"syscalls":[{"name":"a","names":["b"]}]}`, `{"syscalls":[{"names":["a"],"includes":{"minKernel":"x"}}]}`} {
		if _, err := ParseSeccompProfile([]byte(bad), nil); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("profile %s: err = %v, want invalid", bad, err)
		}
	}
}

func FuzzParseSeccompProfile(f *testing.F) {
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8"}}]}`))
	f.Add([]byte(`{"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseSeccompProfile(data, DefaultCapabilities())
	})
}

func FuzzResolveUser(f *testing.F) {
	f.Add(passwd, group, "app:audio")
	f.Add("x:x:1:2::/:/bin/sh", "", "x")
	f.Fuzz(func(t *testing.T, pw, gr, user string) {
		root := t.TempDir()
		_ = os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		_ = os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(pw), 0o644)
		_ = os.WriteFile(filepath.Join(root, "etc/group"), []byte(gr), 0o644)
		u, err := ResolveUser(root, user)
		if err == nil && (len(u.AdditionalGids) == 0 || u.AdditionalGids[0] != u.GID) {
			t.Fatalf("user %q: first additional gid is not the primary: %+v", user, u)
		}
	})
}

func TestGenerate(t *testing.T) {
	sec, err := DefaultSeccomp(DefaultCapabilities())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Generate(Options{
		ID:       "abc",
		Process:  ProcessOptions{Args: []string{"sh"}, Env: []string{"A=1"}, Seccomp: sec},
		Hostname: "abc",
		NetNS:    "/run/berth/netns/abc",
		Memory:   64 << 20,
		CPUs:     1.5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Process.Cwd != "/" || s.Process.NoNewPrivileges || s.Process.Terminal {
		t.Errorf("process %+v", s.Process)
	}
	if !slices.Equal(s.Process.Capabilities.Bounding, DefaultCapabilities()) || len(s.Process.Capabilities.Inheritable) != 0 {
		t.Errorf("capabilities %+v", s.Process.Capabilities)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if len(s.Process.Rlimits) != 1 || s.Process.Rlimits[0].Hard > lim.Max || s.Process.Rlimits[0].Soft > s.Process.Rlimits[0].Hard {
		t.Errorf("rlimits %+v above the caller's hard limit %d", s.Process.Rlimits, lim.Max)
	}
	var types []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		types = append(types, ns.Type)
		if ns.Type == specs.NetworkNamespace && ns.Path != "/run/berth/netns/abc" {
			t.Errorf("network namespace path %q", ns.Path)
		}
	}
	for _, want := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace} {
		if !slices.Contains(types, want) {
			t.Errorf("namespace %s missing", want)
		}
	}
	if slices.Contains(types, specs.CgroupNamespace) != CgroupV2() {
		t.Errorf("cgroup namespace present = %v on cgroup v2 = %v", slices.Contains(types, specs.CgroupNamespace), CgroupV2())
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Error("masked or read-only /proc paths missing")
	}
	if *s.Linux.Resources.Memory.Limit != 64<<20 || *s.Linux.Resources.CPU.Quota != 150000 || *s.Linux.Resources.CPU.Period != 100000 {
		t.Errorf("resources %+v %+v", s.Linux.Resources.Memory, s.Linux.Resources.CPU)
	}
	if s.Linux.CgroupsPath != "/berth/abc" || s.Linux.Seccomp != sec {
		t.Errorf("cgroups path %q", s.Linux.CgroupsPath)
	}
	var shm bool
	for _, m := range s.Mounts {
		shm = shm || m.Destination == "/dev/shm"
	}
	if !shm {
		t.Error("/dev/shm missing")
	}

	host, err := Generate(Options{ID: "h", Process: ProcessOptions{Args: []string{"true"}, NoNewPrivileges: true}, HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range host.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			t.Error("host network has a network namespace")
		}
	}
	if !host.Process.NoNewPrivileges || host.Linux.Sysctl != nil {
		t.Errorf("host: nnp %v sysctl %v", host.Process.NoNewPrivileges, host.Linux.Sysctl)
	}
	if _, err := Generate(Options{ID: "x"}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("no command: %v", err)
	}
	if _, err := Generate(Options{ID: "x", Process: ProcessOptions{Args: []string{"sh"}, Cwd: "/proc/self/fd/3"}}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("cwd in /proc: %v", err)
	}
}
