package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// lowerLayer makes a lower layer directory and a Lower func that finds names in it.
func lowerLayer(t *testing.T, files map[string]string) (string, func(string) (string, error)) {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(body, "-> "); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(body), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root, func(name string) (string, error) {
		p := filepath.Join(root, name)
		if _, err := os.Lstat(p); err != nil {
			return "", err
		}
		return p, nil
	}
}

func TestPendingLinks(t *testing.T) {
	requireRoot(t, "owners of the placeholders are part of the check")
	_, lower := lowerLayer(t, map[string]string{
		"usr/bin/perl": "#!perl interpreter",
		"usr/lib/libz": "-> libz.so.1",
	})
	s := newSandbox(t)
	when := time.Date(2015, 5, 5, 5, 5, 5, 0, time.UTC)
	res := mustApply(t, s.layer, Options{},
		hlink("usr/bin/perl5.36", "usr/bin/perl", mode(0o755), owner(0, 3), mtime(when)),
		// As tar writers do, every name of the inode carries the same metadata (the
		// last entry's would win, as in moby).
		hlink("usr/bin/perl-again", "usr/bin/perl", mode(0o755), owner(0, 3), mtime(when)), // links to the first copy
		hlink("usr/bin/alias", "usr/bin/perl5.36", mode(0o755), owner(0, 3), mtime(when)),  // a link to the placeholder
		hlink("gone", "usr/bin/perl", mode(0o755), owner(0, 3), mtime(when)),               // made, then replaced below
		reg("gone", "replaced"),
		hlink("lib/libz", "usr/lib/libz"),
	)
	if len(res.Pending) != 2 {
		t.Fatalf("Pending = %d links, want 2 (perl and libz)", len(res.Pending))
	}
	if l := res.Pending[0]; l.Name != "/usr/bin/perl5.36" || l.Target != "/usr/bin/perl" {
		t.Errorf("Pending[0] = %s -> %s", l.Name, l.Target)
	}
	// Before FinishLinks the placeholders are empty and already carry their metadata.
	if got, want := describe(t, filepath.Join(s.layer, "usr/bin/perl5.36")), `reg 0755 0:3 nlink=3 ""`; got != want {
		t.Errorf("placeholder is %s, want %s", got, want)
	}
	before := res.Size
	delta, err := FinishLinks(context.Background(), s.layer, res.Pending, lower)
	if err != nil {
		t.Fatal(err)
	}
	const content = "#!perl interpreter"
	if want := int64(len(content) + len("libz.so.1")); delta != want {
		t.Errorf("sizeDelta = %d, want %d", delta, want)
	}
	walked, _ := Size(s.layer)
	if before+delta != walked {
		t.Errorf("Size %d + delta %d != Size(dir) %d", before, delta, walked)
	}
	for _, p := range []string{"usr/bin/perl5.36", "usr/bin/perl-again", "usr/bin/alias"} {
		if got, want := describe(t, filepath.Join(s.layer, p)), `reg 0755 0:3 nlink=3 "`+content+`"`; got != want {
			t.Errorf("%s is %s, want %s", p, got, want)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(s.layer, "usr/bin/perl5.36"), &st); err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(st.Mtim.Unix()); !got.Equal(when) {
		t.Errorf("mtime after filling = %v, want the entry's %v", got, when)
	}
	if got, want := describe(t, filepath.Join(s.layer, "gone")), `reg 0644 0:0 nlink=1 "replaced"`; got != want {
		t.Errorf("gone is %s, want %s", got, want)
	}
	if got, want := describe(t, filepath.Join(s.layer, "lib/libz")), "sym -> libz.so.1"; got != want {
		t.Errorf("lib/libz is %s, want %s (a link to a lower symlink is that symlink)", got, want)
	}
	for _, l := range res.Pending {
		if l.f != nil {
			t.Errorf("%s: FinishLinks left its placeholder open", l.Name)
		}
	}
	s.check(t)
}

func TestPendingLinksKeepCapabilities(t *testing.T) {
	requireRoot(t, "security.capability needs CAP_SETFCAP")
	_, lower := lowerLayer(t, map[string]string{"bin/ping": "ping binary"})
	s := newSandbox(t)
	capv := string([]byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	res := mustApply(t, s.layer, Options{}, hlink("bin/ping6", "bin/ping", mode(0o4755), xattr("security.capability", capv)))
	if _, err := FinishLinks(context.Background(), s.layer, res.Pending, lower); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.layer, "bin/ping6")
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, "security.capability", buf)
	if err != nil || string(buf[:n]) != capv {
		t.Errorf("security.capability after filling = %x, %v; want %x (writing content drops it)", buf[:n], err, capv)
	}
	if got, want := describe(t, p), `reg 4755 0:0 nlink=1 "ping binary"`; got != want {
		t.Errorf("ping6 is %s, want %s", got, want)
	}
}

func TestFinishLinksErrors(t *testing.T) {
	s := newSandbox(t)
	res := mustApply(t, s.layer, Options{}, hlink("x", "nowhere"))
	_, lower := lowerLayer(t, nil)
	_, err := FinishLinks(context.Background(), s.layer, res.Pending, lower)
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), `"/x"`) || !strings.Contains(err.Error(), "/nowhere") {
		t.Errorf("FinishLinks of a missing target: %v; want ErrInvalid naming /x and /nowhere", err)
	}
	if res.Pending[0].f != nil {
		t.Error("FinishLinks left a placeholder open after an error")
	}
	if _, err := FinishLinks(context.Background(), s.layer, nil, nil); err != nil {
		t.Errorf("FinishLinks with nothing pending: %v", err)
	}
	res = mustApply(t, t.TempDir(), Options{}, hlink("y", "nowhere"))
	if _, err := FinishLinks(context.Background(), s.layer, res.Pending, nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("FinishLinks without lower: %v, want ErrInvalid", err)
	}
	boom := errors.New("layer store unavailable")
	res = mustApply(t, t.TempDir(), Options{}, hlink("z", "a"))
	_, err = Apply(context.Background(), t.TempDir(), strings.NewReader(string(buildTar(t, hlink("z", "a")))),
		Options{Lower: func(string) (string, error) { return "", boom }})
	if !errors.Is(err, boom) {
		t.Errorf("Apply when Lower fails: %v, want it to wrap %v", err, boom)
	}
	for _, l := range res.Pending {
		l.Close()
	}
}

func TestApplyHardlinkErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ents []entry
		want string // the entry the error names
	}{
		{"to a directory", []entry{dir("d/"), hlink("h", "d")}, "h"},
		{"to itself", []entry{hlink("h", "h")}, "h"},
		{"to the root", []entry{hlink("h", "/")}, "h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := apply(t, s.layer, Options{}, tc.ents...)
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), `"`+tc.want+`"`) {
				t.Errorf("err = %v, want ErrInvalid naming %q", err, tc.want)
			}
			s.check(t)
		})
	}
}
