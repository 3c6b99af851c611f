package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// entry is one crafted tar entry.
type entry struct {
	hdr  tar.Header
	body string
}

type opt func(*tar.Header)

var epoch = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func mk(typ byte, name string, opts []opt) entry {
	e := entry{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}}
	if typ == tar.TypeDir {
		e.hdr.Mode = 0o755
	}
	for _, o := range opts {
		o(&e.hdr)
	}
	return e
}

func reg(name, body string, opts ...opt) entry {
	e := mk(tar.TypeReg, name, opts)
	e.body = body
	e.hdr.Size = int64(len(body))
	return e
}
func dir(name string, opts ...opt) entry { return mk(tar.TypeDir, name, opts) }
func sym(name, target string, opts ...opt) entry {
	e := mk(tar.TypeSymlink, name, opts)
	e.hdr.Linkname = target
	e.hdr.Mode = 0o777
	return e
}
func hlink(name, target string, opts ...opt) entry {
	e := mk(tar.TypeLink, name, opts)
	e.hdr.Linkname = target
	return e
}
func dev(typ byte, name string, major, minor int64, opts ...opt) entry {
	e := mk(typ, name, opts)
	e.hdr.Devmajor, e.hdr.Devminor = major, minor
	return e
}

func mode(m int64) opt       { return func(h *tar.Header) { h.Mode = m } }
func owner(uid, gid int) opt { return func(h *tar.Header) { h.Uid, h.Gid = uid, gid } }
func mtime(t time.Time) opt  { return func(h *tar.Header) { h.ModTime = t } }
func xattr(name, value string) opt {
	return func(h *tar.Header) {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+name] = value
	}
}

func buildTar(t testing.TB, ents ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %q: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sandbox is a parent directory holding the layer dir and an "outside" directory
// with a sentinel file, to prove nothing is written outside the layer.
type sandbox struct {
	parent, layer, outside string
}

func newSandbox(t testing.TB) sandbox {
	t.Helper()
	p := t.TempDir()
	s := sandbox{parent: p, layer: filepath.Join(p, "layer"), outside: filepath.Join(p, "outside")}
	for _, d := range []string{s.layer, s.outside, filepath.Join(s.outside, "dir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.outside, "secret"), []byte("sentinel"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(s.outside, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// check fails the test if anything outside the layer changed.
func (s sandbox) check(t testing.TB) {
	t.Helper()
	got := listing(t, s.parent, "layer")
	want := map[string]string{
		"outside":        "dir 0755",
		"outside/dir":    "dir 0755",
		"outside/secret": "reg 0600 0:0 nlink=1 \"sentinel\"",
	}
	if os.Geteuid() != 0 {
		want["outside/secret"] = fmt.Sprintf("reg 0600 %d:%d nlink=1 \"sentinel\"", os.Geteuid(), os.Getegid())
	}
	delete(got, "layer")
	for k, v := range want {
		if got[k] != v {
			t.Errorf("outside the layer: %s is %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("outside the layer: %s was created (%s)", k, got[k])
		}
	}
}

// listing describes every file under root (except the skip subtree) by its path.
func listing(t testing.TB, root, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if skip != "" && rel == skip {
			out[rel] = "skipped"
			return filepath.SkipDir
		}
		out[rel] = describe(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// describe tells a file's type, mode, owner and content in one string.
func describe(t testing.TB, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	perm := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return fmt.Sprintf("dir %04o", perm)
	case unix.S_IFLNK:
		target, _ := os.Readlink(p)
		return "sym -> " + target
	case unix.S_IFREG:
		b, _ := os.ReadFile(p)
		return fmt.Sprintf("reg %04o %d:%d nlink=%d %q", perm, st.Uid, st.Gid, st.Nlink, b)
	case unix.S_IFCHR:
		return fmt.Sprintf("chr %04o %d/%d", perm, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	case unix.S_IFBLK:
		return fmt.Sprintf("blk %04o %d/%d", perm, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		return fmt.Sprintf("fifo %04o", perm)
	}
	return "other"
}

func apply(t testing.TB, layer string, opts Options, ents ...entry) (Result, error) {
	t.Helper()
	return Apply(context.Background(), layer, bytes.NewReader(buildTar(t, ents...)), opts)
}

func mustApply(t testing.TB, layer string, opts Options, ents ...entry) Result {
	t.Helper()
	res, err := apply(t, layer, opts, ents...)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	checkSize(t, layer, res)
	return res
}

// checkSize asserts the size counted during extraction is what a walk counts.
func checkSize(t testing.TB, layer string, res Result) {
	t.Helper()
	walked, err := Size(layer)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != walked {
		t.Errorf("Result.Size = %d, Size(dir) = %d", res.Size, walked)
	}
}

func requireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("SKIPPED, needs root: %s", why)
	}
}

// both runs f with openat2 and with the filepath-securejoin fallback.
func both(t *testing.T, f func(t *testing.T)) {
	t.Run("openat2", f)
	t.Run("securejoin", func(t *testing.T) {
		forceSecurejoin = true
		t.Cleanup(func() { forceSecurejoin = false })
		f(t)
	})
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func dump(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, "  %s: %s\n", k, m[k])
	}
	return b.String()
}

// ownedByUs rewrites the root owner in an expected description to this process's
// ids when not root: without root, files keep their creator's.
func ownedByUs(desc string) string {
	if os.Geteuid() == 0 {
		return desc
	}
	return strings.Replace(desc, " 0:0 ", fmt.Sprintf(" %d:%d ", os.Geteuid(), os.Getegid()), 1)
}
