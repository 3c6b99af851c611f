package archive

import (
	"archive/tar"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestApplyTree applies crafted tars and compares the whole resulting tree.
func TestApplyTree(t *testing.T) {
	requireRoot(t, "owners, device nodes and whiteouts are part of every expected tree")
	tests := []struct {
		name string
		ents []entry
		want map[string]string
	}{{
		name: "files dirs and modes",
		ents: []entry{
			dir("etc/", mode(0o755)),
			reg("etc/passwd", "root:x:0:0", mode(0o644)),
			reg("etc/shadow", "secret", mode(0o640), owner(0, 42)),
			reg("usr/bin/su", "elf", mode(0o4755)),
			reg("usr/bin/wall", "elf", mode(0o2755), owner(0, 5)),
			dir("tmp/", mode(0o1777)),
			reg("home/u/.profile", "", mode(0o600), owner(1000, 1000)),
		},
		want: map[string]string{
			"etc":             "dir 0755",
			"etc/passwd":      `reg 0644 0:0 nlink=1 "root:x:0:0"`,
			"etc/shadow":      `reg 0640 0:42 nlink=1 "secret"`,
			"usr":             "dir 0755", // implicit parents: 0755
			"usr/bin":         "dir 0755",
			"usr/bin/su":      `reg 4755 0:0 nlink=1 "elf"`,
			"usr/bin/wall":    `reg 2755 0:5 nlink=1 "elf"`,
			"tmp":             "dir 1777",
			"home":            "dir 0755",
			"home/u":          "dir 0755",
			"home/u/.profile": `reg 0600 1000:1000 nlink=1 ""`,
		},
	}, {
		name: "leading slash and dot names join under the root",
		ents: []entry{
			reg("/etc/hostname", "h"),
			reg("./etc/hosts", "x"),
			reg("/../etc/issue", "i"), // "/.." is "/": joined under the root
			dir("./"),
			dir("/"),
		},
		want: map[string]string{
			"etc":          "dir 0755",
			"etc/hostname": `reg 0644 0:0 nlink=1 "h"`,
			"etc/hosts":    `reg 0644 0:0 nlink=1 "x"`,
			"etc/issue":    `reg 0644 0:0 nlink=1 "i"`,
		},
	}, {
		name: "symlink targets stored exactly",
		ents: []entry{
			sym("etc/localtime", "/usr/share/zoneinfo/UTC"),
			sym("lib64/ld-linux-x86-64.so.2", "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
			sym("up", "../../../../../../.."),
			sym("bin", "usr/bin"),
			sym("dot", "."),
		},
		want: map[string]string{
			"etc":                        "dir 0755",
			"etc/localtime":              "sym -> /usr/share/zoneinfo/UTC",
			"lib64":                      "dir 0755",
			"lib64/ld-linux-x86-64.so.2": "sym -> ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
			"up":                         "sym -> ../../../../../../..",
			"bin":                        "sym -> usr/bin",
			"dot":                        "sym -> .",
		},
	}, {
		name: "devices and fifos",
		ents: []entry{
			dev(tar.TypeChar, "dev/null", 1, 3, mode(0o666)),
			dev(tar.TypeBlock, "dev/loop0", 7, 0, mode(0o660), owner(0, 6)),
			dev(tar.TypeFifo, "run/initctl", 0, 0, mode(0o600)),
		},
		want: map[string]string{
			"dev":         "dir 0755",
			"dev/null":    "chr 0666 1/3",
			"dev/loop0":   "blk 0660 7/0",
			"run":         "dir 0755",
			"run/initctl": "fifo 0600",
		},
	}, {
		name: "a setgid directory does not decide the group of what is made inside",
		ents: []entry{
			dir("d/", mode(0o2775), owner(0, 50)),
			reg("d/f", "f", owner(0, 0)),
			dir("d/sub/", owner(0, 0)),
			reg("d/sub/g", "g"),
			reg("d/implicit/h", "h"),
		},
		want: map[string]string{
			"d": "dir 2775", "d/f": `reg 0644 0:0 nlink=1 "f"`,
			"d/sub": "dir 0755", "d/sub/g": `reg 0644 0:0 nlink=1 "g"`,
			"d/implicit": "dir 0755", "d/implicit/h": `reg 0644 0:0 nlink=1 "h"`,
		},
	}, {
		name: "modes the umask would strip",
		ents: []entry{reg("f", "f", mode(0o666)), reg("x", "x", mode(0o777)), dir("d/", mode(0o777)), reg("r", "r", mode(0o400))},
		want: map[string]string{"f": `reg 0666 0:0 nlink=1 "f"`, "x": `reg 0777 0:0 nlink=1 "x"`, "d": "dir 0777", "r": `reg 0400 0:0 nlink=1 "r"`},
	}, {
		name: "a file written twice keeps the second",
		ents: []entry{reg("f", "first version"), reg("f", "2nd", mode(0o600))},
		want: map[string]string{"f": `reg 0600 0:0 nlink=1 "2nd"`},
	}, {
		name: "a file replaces a directory and its contents",
		ents: []entry{dir("d/"), reg("d/a", "aaaa"), dir("d/sub/"), reg("d/sub/b", "bb"), reg("d", "now a file")},
		want: map[string]string{"d": `reg 0644 0:0 nlink=1 "now a file"`},
	}, {
		name: "a directory replaces a file",
		ents: []entry{reg("d", "file"), dir("d/", mode(0o700)), reg("d/x", "x")},
		want: map[string]string{"d": "dir 0700", "d/x": `reg 0644 0:0 nlink=1 "x"`},
	}, {
		name: "a directory over a directory keeps it and updates metadata",
		ents: []entry{dir("d/", mode(0o755)), reg("d/keep", "k"), dir("d/", mode(0o750), owner(0, 7))},
		want: map[string]string{"d": "dir 0750", "d/keep": `reg 0644 0:0 nlink=1 "k"`},
	}, {
		name: "a file replaces a symlink, not its target",
		ents: []entry{reg("target", "old"), sym("s", "target"), reg("s", "new")},
		want: map[string]string{"target": `reg 0644 0:0 nlink=1 "old"`, "s": `reg 0644 0:0 nlink=1 "new"`},
	}, {
		name: "a directory replaces a symlink to a directory",
		ents: []entry{dir("real/"), reg("real/x", "x"), sym("s", "real"), dir("s/", mode(0o700))},
		want: map[string]string{"real": "dir 0755", "real/x": `reg 0644 0:0 nlink=1 "x"`, "s": "dir 0700"},
	}, {
		name: "a symlink replaces a file",
		ents: []entry{reg("f", "x"), sym("f", "/elsewhere")},
		want: map[string]string{"f": "sym -> /elsewhere"},
	}, {
		name: "parents resolve through in-layer symlinks",
		ents: []entry{dir("usr/lib/"), sym("lib", "/usr/lib"), reg("lib/libc.so", "c"), sym("rel", "usr/../usr/lib"), reg("rel/libm.so", "m")},
		want: map[string]string{
			"usr": "dir 0755", "usr/lib": "dir 0755", "lib": "sym -> /usr/lib", "rel": "sym -> usr/../usr/lib",
			"usr/lib/libc.so": `reg 0644 0:0 nlink=1 "c"`, "usr/lib/libm.so": `reg 0644 0:0 nlink=1 "m"`,
		},
	}, {
		name: "hardlinks inside the layer",
		ents: []entry{reg("bin/busybox", "bb", mode(0o755)), hlink("bin/sh", "bin/busybox", mode(0o755)), hlink("/bin/ls", "/bin/busybox", mode(0o755))},
		want: map[string]string{
			"bin": "dir 0755", "bin/busybox": `reg 0755 0:0 nlink=3 "bb"`,
			"bin/sh": `reg 0755 0:0 nlink=3 "bb"`, "bin/ls": `reg 0755 0:0 nlink=3 "bb"`,
		},
	}, {
		name: "a hardlink to a symlink links the symlink",
		ents: []entry{sym("s", "/x"), hlink("s2", "s")},
		want: map[string]string{"s": "sym -> /x", "s2": "sym -> /x"},
	}, {
		name: "unsupported AUFS metadata is skipped",
		ents: []entry{reg(".wh..wh.aufs", ""), dir(".wh..wh.orph/"), reg(".wh..wh.orph/x", "x"), dir("d/"), reg("d/.wh..wh.foo", "")},
		want: map[string]string{"d": "dir 0755"},
	}, {
		name: "AUFS plnk hardlinks resolve, the directory goes",
		ents: []entry{dir(".wh..wh.plnk/"), reg(".wh..wh.plnk/1234.5678", "shared", mode(0o755)), hlink("usr/bin/a", ".wh..wh.plnk/1234.5678", mode(0o755))},
		want: map[string]string{"usr": "dir 0755", "usr/bin": "dir 0755", "usr/bin/a": `reg 0755 0:0 nlink=1 "shared"`},
	}, {
		name: "whiteouts",
		ents: []entry{dir("etc/"), reg("etc/.wh.motd", ""), reg(".wh.gone", "", owner(0, 0))},
		want: map[string]string{"etc": "dir 0755", "etc/motd": "chr 0000 0/0", "gone": "chr 0000 0/0"},
	}, {
		name: "a whiteout of a file of the same layer replaces it",
		ents: []entry{reg("a/f", "data"), reg("a/.wh.f", "")},
		want: map[string]string{"a": "dir 0755", "a/f": "chr 0000 0/0"},
	}, {
		name: "a whiteout of a directory of the same layer replaces it",
		ents: []entry{reg("a/d/x", "x"), reg("a/.wh.d", "")},
		want: map[string]string{"a": "dir 0755", "a/d": "chr 0000 0/0"},
	}, {
		name: "global headers are ignored",
		ents: []entry{{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}}}, reg("f", "f")},
		want: map[string]string{"f": `reg 0644 0:0 nlink=1 "f"`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			both(t, func(t *testing.T) {
				s := newSandbox(t)
				mustApply(t, s.layer, Options{}, tc.ents...)
				got := listing(t, s.layer, "")
				if !maps.Equal(got, tc.want) {
					t.Errorf("tree:\n%swant:\n%s", dump(got), dump(tc.want))
				}
				s.check(t)
			})
		})
	}
}

func TestApplyTimes(t *testing.T) {
	s := newSandbox(t)
	t1 := time.Date(2001, 2, 3, 4, 5, 6, 700, time.UTC)
	t2 := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
	atime := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	// Not mustApply: its walk would read the directories and move their atimes.
	res, err := apply(t, s.layer, Options{},
		dir("d/", mtime(t2)),
		reg("d/f", "x", mtime(t1), func(h *tar.Header) { h.AccessTime = atime }),
		sym("d/s", "/nowhere", mtime(t1)),
		dir("d/sub/", mtime(t1)),
		reg("d/sub/g", "g"), // would move d/sub's mtime if directory times were set at once
	)
	if err != nil {
		t.Fatal(err)
	}
	defer checkSize(t, s.layer, res)
	for _, c := range []struct {
		path         string
		mtime, atime time.Time
	}{
		{"d", t2, t2},
		{"d/f", t1, atime},
		{"d/s", t1, t1},
		{"d/sub", t1, t1},
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(s.layer, c.path), &st); err != nil {
			t.Fatal(err)
		}
		if got := time.Unix(st.Mtim.Unix()); !got.Equal(c.mtime) {
			t.Errorf("%s: mtime %v, want %v", c.path, got, c.mtime)
		}
		if got := time.Unix(st.Atim.Unix()); !got.Equal(c.atime) {
			t.Errorf("%s: atime %v, want %v", c.path, got, c.atime)
		}
	}
}

func TestApplyXattrs(t *testing.T) {
	requireRoot(t, "security.capability and trusted.* xattrs need CAP_SETFCAP / CAP_SYS_ADMIN")
	s := newSandbox(t)
	// The capability blob of "cap_net_bind_service=ep" (VFS_CAP_REVISION_2).
	capv := string([]byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	mustApply(t, s.layer, Options{},
		// Owner 0:0 is set before the xattr: chown would drop the capability.
		reg("bin/ping", "elf", mode(0o755), owner(0, 0), xattr("security.capability", capv)),
		dir("d/", xattr("user.note", "dir note")),
		reg("t", "t", xattr("trusted.berth", "yes")),
		sym("s", "/x", xattr("trusted.sym", "on a symlink")),
		hlink("bin/ping6", "bin/ping", mode(0o755), xattr("user.link", "l")),
	)
	for _, c := range []struct{ path, name, value string }{
		{"bin/ping", "security.capability", capv},
		{"d", "user.note", "dir note"},
		{"t", "trusted.berth", "yes"},
		{"s", "trusted.sym", "on a symlink"},
		{"bin/ping", "user.link", "l"},
	} {
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(filepath.Join(s.layer, c.path), c.name, buf)
		if err != nil {
			t.Errorf("%s: xattr %s: %v", c.path, c.name, err)
			continue
		}
		if string(buf[:n]) != c.value {
			t.Errorf("%s: xattr %s = %q, want %q", c.path, c.name, buf[:n], c.value)
		}
	}
}

func TestApplyOpaque(t *testing.T) {
	requireRoot(t, "trusted.overlay.opaque needs CAP_SYS_ADMIN")
	both(t, func(t *testing.T) {
		s := newSandbox(t)
		res := mustApply(t, s.layer, Options{}, dir("a/"), reg("a/.wh..wh..opq", ""), reg("a/new", "n"), reg("b/c/.wh..wh..opq", ""))
		for _, d := range []string{"a", "b/c"} {
			buf := make([]byte, 8)
			n, err := unix.Lgetxattr(filepath.Join(s.layer, d), opaqueXattr, buf)
			if err != nil || string(buf[:n]) != "y" {
				t.Errorf("%s: %s = %q, %v; want y", d, opaqueXattr, buf[:n], err)
			}
		}
		got := listing(t, s.layer, "")
		want := map[string]string{"a": "dir 0755", "a/new": `reg 0644 0:0 nlink=1 "n"`, "b": "dir 0755", "b/c": "dir 0755"}
		if !maps.Equal(got, want) {
			t.Errorf("tree:\n%swant:\n%s", dump(got), dump(want))
		}
		if res.Size != 1 {
			t.Errorf("Size = %d, want 1", res.Size)
		}
	})
}

func TestApplyEntriesCounted(t *testing.T) {
	s := newSandbox(t)
	res := mustApply(t, s.layer, Options{}, dir("d/"), reg("d/a", "a"), sym("d/s", "a"), hlink("d/h", "d/a"), reg(".wh..wh.aufs", ""))
	if res.Entries != 4 {
		t.Errorf("Entries = %d, want 4", res.Entries)
	}
	if len(res.Pending) != 0 || res.SkippedDevices != 0 {
		t.Errorf("Pending = %v, SkippedDevices = %d; want none", res.Pending, res.SkippedDevices)
	}
	if _, err := os.Stat(filepath.Join(s.layer, ".wh..wh.aufs")); !os.IsNotExist(err) {
		t.Errorf(".wh..wh.aufs: %v, want it skipped", err)
	}
}

// TestApplyReadOnlyDirs: a directory whose mode forbids writing still gets its
// entries (without root, only because its mode is set at the end).
func TestApplyReadOnlyDirs(t *testing.T) {
	s := newSandbox(t)
	t.Cleanup(func() { // let TempDir remove it without root
		filepath.WalkDir(s.layer, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	mustApply(t, s.layer, Options{}, dir("ro/", mode(0o555)), reg("ro/f", "f"), dir("ro/sub/", mode(0o500)), reg("ro/sub/g", "g", mode(0o400)))
	got := listing(t, s.layer, "")
	want := map[string]string{
		"ro": "dir 0555", "ro/f": ownedByUs(`reg 0644 0:0 nlink=1 "f"`),
		"ro/sub": "dir 0500", "ro/sub/g": ownedByUs(`reg 0400 0:0 nlink=1 "g"`),
	}
	if !maps.Equal(got, want) {
		t.Errorf("tree:\n%swant:\n%s", dump(got), dump(want))
	}
}
