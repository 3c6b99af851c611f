package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

func TestStore(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Create("data", map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "data" || v.Driver != "local" || v.Scope != "local" || v.Labels["a"] != "b" || v.Anonymous() {
		t.Errorf("volume %+v", v)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() || filepath.Base(v.Mountpoint) != "_data" {
		t.Fatalf("mountpoint %s: %v", v.Mountpoint, err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Creating it again returns the same volume, data intact.
	again, err := s.Create("data", nil)
	if err != nil || again.Mountpoint != v.Mountpoint || !again.CreatedAt.Equal(v.CreatedAt) {
		t.Fatalf("re-create: %+v %v", again, err)
	}
	if b, _ := os.ReadFile(filepath.Join(v.Mountpoint, "f")); string(b) != "kept" {
		t.Error("data lost on re-create")
	}
	anon, err := s.Create("", nil)
	if err != nil || len(anon.Name) != 64 || !anon.Anonymous() {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %d %v", len(list), err)
	}
	if s.Size("data") != 4 {
		t.Errorf("size %d", s.Size("data"))
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("removed volume: %v", err)
	}
	if err := s.Remove("data"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(v.Mountpoint + "/../.."))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".rm-") || strings.HasPrefix(e.Name(), ".new-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestNames(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"a", "a/b", "../x", "-x", "x y", ".hidden"} {
		if _, err := s.Create(bad, nil); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "includes invalid characters for a local volume name") {
			t.Errorf("Create(%q) = %v", bad, err)
		}
	}
	if _, err := s.Get("../etc"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get(../etc) = %v", err)
	}
}

func TestCreateConcurrent(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	mps := make([]string, 16)
	for i := range mps {
		wg.Go(func() {
			v, err := s.Create("shared", nil)
			if err != nil {
				t.Error(err)
				return
			}
			mps[i] = v.Mountpoint
		})
	}
	wg.Wait()
	for _, m := range mps {
		if m != mps[0] {
			t.Fatalf("mountpoints differ: %v", mps)
		}
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Errorf("%d volumes", len(list))
	}
}

func TestCopyUp(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "sub/deeper"), 0o750))
	must(os.WriteFile(filepath.Join(src, "sub/deeper/file"), []byte("content"), 0o640))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(src, "link")))
	must(os.Symlink(outside, filepath.Join(src, "dirlink")))
	if os.Geteuid() != 0 {
		t.Skip("copying owners needs root: run the tests as root")
	}
	must(os.Chown(filepath.Join(src, "sub/deeper/file"), 1234, 5678))
	dst := t.TempDir()
	if empty, err := Empty(dst); err != nil || !empty {
		t.Fatalf("Empty = %v %v", empty, err)
	}
	must(CopyUp(src, dst))
	if b, err := os.ReadFile(filepath.Join(dst, "sub/deeper/file")); err != nil || string(b) != "content" {
		t.Errorf("file: %q %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "sub/deeper/file"))
	must(err)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("owner %d:%d, want 1234:5678", st.Uid, st.Gid)
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != filepath.Join(outside, "secret") {
		t.Errorf("link copied as %q %v", l, err)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "dirlink")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("dir link followed: %v %v", fi, err)
	}
	if empty, _ := Empty(dst); empty {
		t.Error("Empty after copy")
	}
	// A missing source copies nothing.
	must(CopyUp(filepath.Join(src, "none"), t.TempDir()))
}

// TestCopyUpSymlinkSwap is issue 16's finding 9: another container sharing
// the volume swaps a directory CopyUp just made for a symlink to a host
// directory. Nothing may be created, chowned or chmodded out there.
func TestCopyUpSymlinkSwap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("copying owners needs root: run the tests as root")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	src := t.TempDir()
	must(os.MkdirAll(filepath.Join(src, "d/sub"), 0o777))
	must(os.Chmod(filepath.Join(src, "d"), 0o777))
	must(os.Chown(filepath.Join(src, "d"), 1234, 1234))
	for i := range 1000 {
		f := filepath.Join(src, "d", fmt.Sprintf("f%d", i))
		must(os.WriteFile(f, []byte("image"), 0o666))
		must(os.Chmod(f, 0o4777))
		must(os.Chown(f, 1234, 1234))
	}
	// Until the swap has landed in three rounds (the old code wrote onto
	// the host in the first one it landed in), or eight rounds.
	swapped := 0
	for round := 0; round < 8 && swapped < 3; round++ {
		host := t.TempDir() // stands for the host
		must(os.Chmod(host, 0o700))
		must(os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600))
		dst := t.TempDir()
		done := make(chan struct{})
		started := make(chan struct{})
		landed := false
		var wg sync.WaitGroup
		wg.Go(func() { // the other container
			d := filepath.Join(dst, "d")
			close(started)
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
					if os.Rename(d, filepath.Join(dst, fmt.Sprintf("moved%d", n))) == nil && os.Symlink(host, d) == nil {
						landed = true
					}
				}
			}
		})
		<-started
		err := CopyUp(src, dst)
		close(done)
		wg.Wait()
		if landed {
			swapped++
		}
		if err != nil {
			t.Logf("round %d: %v", round, err)
		}
		entries, _ := os.ReadDir(host)
		if len(entries) != 1 {
			names := []string{}
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("round %d: CopyUp wrote outside the volume: %d entries in the host dir: %v", round, len(entries), names[:min(len(names), 5)])
		}
		fi, err := os.Stat(host)
		must(err)
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o700 || st.Uid != 0 || st.Gid != 0 {
			t.Fatalf("round %d: host dir changed to %v %d:%d", round, fi.Mode(), st.Uid, st.Gid)
		}
		if b, _ := os.ReadFile(filepath.Join(host, "secret")); string(b) != "host" {
			t.Fatalf("round %d: host file changed: %q", round, b)
		}
	}
	if swapped == 0 {
		t.Error("the swap never landed: the test proved nothing")
	}
}
