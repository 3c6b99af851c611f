package rootfs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting an overlay needs root: run the tests as root")
	}
}

// mountPoints lists the mount points under dir from /proc/self/mountinfo.
func mountPoints(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
			out = append(out, fields[4])
		}
	}
	return out
}

// layers makes n layer directories with long, store-like paths: layer i
// holds /layers/i, overrides /shared with its number, and layer 5 deletes
// /gone (made by layer 0) with a whiteout.
func layers(t *testing.T, n int) []string {
	t.Helper()
	base := t.TempDir()
	var dirs []string
	for i := range n {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		d := filepath.Join(base, "layers", hex.EncodeToString(sum[:]), "fs")
		if err := os.MkdirAll(filepath.Join(d, "layers"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, "layers", fmt.Sprint(i)), fmt.Sprint(i))
		write(t, filepath.Join(d, "shared"), fmt.Sprint(i))
		if i == 0 {
			write(t, filepath.Join(d, "gone"), "x")
		}
		if i == 5 {
			if err := unix.Mknod(filepath.Join(d, "gone"), unix.S_IFCHR, 0); err != nil {
				t.Fatal(err)
			}
		}
		dirs = append(dirs, d)
	}
	return dirs
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func testMount(t *testing.T, n int) {
	needRoot(t)
	lower := layers(t, n)
	c := t.TempDir()
	// Short, as the runtime's run directory is: the links must fit a page.
	short, err := os.MkdirTemp("/tmp", "l")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(short)
	o := Overlay{Lower: lower, Upper: filepath.Join(c, "upper"), Work: filepath.Join(c, "work"), LinkDir: filepath.Join(short, "l")}
	target := filepath.Join(c, "rootfs")
	for _, d := range []string{o.Upper, o.Work, target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Mount(target); err != nil {
		t.Fatal(err)
	}
	defer o.Unmount(target)
	// Links are the mount(2) fallback for long lists only.
	if _, err := os.Stat(o.LinkDir); (err == nil) != (!useNewAPI && n > 40) {
		t.Errorf("link dir present = %v with new API = %v", err == nil, useNewAPI)
	}
	if m, err := Mounted(target); err != nil || !m {
		t.Fatalf("not mounted: %v", err)
	}
	for i := range n {
		if b, err := os.ReadFile(filepath.Join(target, "layers", fmt.Sprint(i))); err != nil || string(b) != fmt.Sprint(i) {
			t.Fatalf("layer %d not visible: %q %v", i, b, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(target, "shared")); string(b) != fmt.Sprint(n-1) {
		t.Errorf("/shared = %q, want the top layer's %d", b, n-1)
	}
	if _, err := os.Stat(filepath.Join(target, "gone")); !os.IsNotExist(err) {
		t.Errorf("whiteout ignored: %v", err)
	}
	write(t, filepath.Join(target, "new"), "upper")
	if b, err := os.ReadFile(filepath.Join(o.Upper, "new")); err != nil || string(b) != "upper" {
		t.Errorf("write did not reach the upper dir: %v", err)
	}
	if err := o.Unmount(target); err != nil {
		t.Fatal(err)
	}
	if m := mountPoints(t, c); len(m) != 0 {
		t.Errorf("still mounted: %v", m)
	}
	if _, err := os.Stat(o.LinkDir); !os.IsNotExist(err) {
		t.Errorf("link dir left: %v", err)
	}
	// Unmounting again, as after a reboot, is fine.
	if err := o.Unmount(target); err != nil {
		t.Errorf("second unmount: %v", err)
	}
}

func TestMount128Layers(t *testing.T) { testMount(t, 128) }

func TestMountOneLayer(t *testing.T) { testMount(t, 6) }

func TestMount128LayersWithMount2(t *testing.T) {
	useNewAPI = false
	defer func() { useNewAPI = true }()
	testMount(t, 128)
}

func TestMountNeedsLayers(t *testing.T) {
	if err := (Overlay{}).Mount(t.TempDir()); err == nil {
		t.Fatal("no layers mounted")
	}
}

// superOptions returns the superblock options of the mount at target.
func superOptions(t *testing.T, target string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == target {
			return f[len(f)-1]
		}
	}
	t.Fatalf("%s not in mountinfo", target)
	return ""
}

// A volatile overlay (an --rm container's) carries the option, and mounts
// again after a clean unmount although overlayfs left its marker behind.
func testMountVolatile(t *testing.T) {
	needRoot(t)
	c := t.TempDir()
	o := Overlay{Lower: layers(t, 2), Upper: filepath.Join(c, "upper"), Work: filepath.Join(c, "work"), Volatile: true}
	target := filepath.Join(c, "rootfs")
	for _, d := range []string{o.Upper, o.Work, target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if err := o.Mount(target); err != nil {
			t.Fatalf("mount %d: %v", i, err)
		}
		if opts := superOptions(t, target); !strings.Contains(opts, "volatile") {
			t.Errorf("mount %d: options %q lack volatile", i, opts)
		}
		write(t, filepath.Join(target, "new"), fmt.Sprint(i))
		if err := o.Unmount(target); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(o.Upper, "new")); err != nil || string(b) != fmt.Sprint(i) {
			t.Errorf("mount %d: upper has %q, %v", i, b, err)
		}
	}
}

func TestMountVolatile(t *testing.T) { testMountVolatile(t) }

func TestMountVolatileWithMount2(t *testing.T) {
	useNewAPI = false
	defer func() { useNewAPI = true }()
	testMountVolatile(t)
}

// A volatile layer that may have lived through a crash of the host (its
// marker is there, from another boot) is refused.
func TestMountVolatileAfterCrash(t *testing.T) {
	needRoot(t)
	c := t.TempDir()
	o := Overlay{Lower: layers(t, 1), Upper: filepath.Join(c, "upper"), Work: filepath.Join(c, "work"), Volatile: true}
	target := filepath.Join(c, "rootfs")
	for _, d := range []string{o.Upper, o.Work, target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Mount(target); err != nil {
		t.Fatal(err)
	}
	if err := o.Unmount(target); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(o.Work, volatileBoot), "another boot\n")
	if err := o.Mount(target); err == nil {
		o.Unmount(target)
		t.Fatal("a layer from before a restart was mounted")
	}
	if m := mountPoints(t, c); len(m) != 0 {
		t.Errorf("mounted: %v", m)
	}
}
