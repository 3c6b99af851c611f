package archive

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// TestApplyRejectsEscapes: names and hardlink targets that climb out of the root are
// refused with an error naming the entry (the CVE-2014-6407 / CVE-2014-9356 class).
func TestApplyRejectsEscapes(t *testing.T) {
	tests := []struct {
		bad  entry
		name string // the entry the error must name
	}{
		{reg("../../etc/passwd", "pwned"), "../../etc/passwd"},
		{reg("a/../../x", "pwned"), "a/../../x"},
		{reg("a/b/../../../outside/secret", "pwned"), "a/b/../../../outside/secret"},
		{reg("..", "pwned"), ".."},
		{dir("../"), "../"},
		{dir("../outside/new/"), "../outside/new/"},
		{sym("../evil", "/"), "../evil"},
		{reg("../.wh.secret", ""), "../.wh.secret"},
		{reg("../outside/.wh..wh..opq", ""), "../outside/.wh..wh..opq"},
		{dev(tar.TypeFifo, "../outside/fifo", 0, 0), "../outside/fifo"},
		{hlink("x", "../outside/secret"), "x"},
		{hlink("x", "a/../../outside/secret"), "x"},
		{hlink("../outside/link", "a"), "../outside/link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			both(t, func(t *testing.T) {
				s := newSandbox(t)
				lower := func(string) (string, error) { return filepath.Join(s.outside, "secret"), nil }
				_, err := apply(t, s.layer, Options{Lower: lower}, reg("a", "a"), tc.bad)
				if err == nil {
					t.Fatal("Apply succeeded, want an error")
				}
				if !errors.Is(err, errdefs.ErrInvalid) {
					t.Errorf("error %q does not wrap ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), `"`+tc.name+`"`) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q: want one line naming %q", err, tc.name)
				}
				s.check(t)
			})
		})
	}
}

// TestApplyNeutralisesSymlinks: symlinks in the tar that point outside the layer
// resolve inside it (as if the root were "/") and are never written through.
func TestApplyNeutralisesSymlinks(t *testing.T) {
	tests := []struct {
		name string
		ents func(s sandbox) []entry
		// wantErr: the entry the error names, or "" for success.
		wantErr string
		// want: files that must exist in the layer afterwards, with their description.
		want map[string]string
	}{{
		name:    "parent symlink to an absolute outside directory",
		ents:    func(s sandbox) []entry { return []entry{sym("a", s.outside), reg("a/pwned", "x")} },
		wantErr: "a/pwned",
	}, {
		name:    "parent symlink climbing out with ..",
		ents:    func(s sandbox) []entry { return []entry{sym("a", "../outside"), reg("a/pwned", "x")} },
		wantErr: "a/pwned",
	}, {
		name: "parent symlink chain",
		ents: func(s sandbox) []entry {
			return []entry{sym("a", "b"), sym("b", "../../../../../../"+s.outside), dir("a/new/")}
		},
		wantErr: "a/new/",
	}, {
		name: "the symlink's target resolves inside the layer",
		ents: func(s sandbox) []entry {
			return []entry{sym("a", s.outside), dir(s.outside + "/"), reg("a/pwned", "x"), reg("a/dir/deep", "y")}
		},
		want: map[string]string{
			outsideToken + "/pwned":    `reg 0644 0:0 nlink=1 "x"`,
			outsideToken + "/dir/deep": `reg 0644 0:0 nlink=1 "y"`,
			"a":                        "sym -> " + outsideToken,
		},
	}, {
		name: "a relative climb stops at the layer root",
		ents: func(s sandbox) []entry {
			return []entry{sym("a", "../../../../../../.."), reg("a/etc/x", "x"), sym("b", "/"), reg("b/etc/y", "y")}
		},
		want: map[string]string{"etc/x": `reg 0644 0:0 nlink=1 "x"`, "etc/y": `reg 0644 0:0 nlink=1 "y"`},
	}, {
		name: "a file replaces a symlink to an outside file",
		ents: func(s sandbox) []entry {
			return []entry{sym("f", filepath.Join(s.outside, "secret")), reg("f", "mine", mode(0o777))}
		},
		want: map[string]string{"f": `reg 0777 0:0 nlink=1 "mine"`},
	}, {
		name: "a directory replaces a symlink to an outside directory (CVE-2021-32760)",
		ents: func(s sandbox) []entry {
			return []entry{sym("d", filepath.Join(s.outside, "dir")), dir("d/", mode(0o777), owner(0, 0)), reg("d/x", "x")}
		},
		want: map[string]string{"d": "dir 0777", "d/x": `reg 0644 0:0 nlink=1 "x"`},
	}, {
		name: "a device replaces a symlink",
		ents: func(s sandbox) []entry {
			return []entry{sym("p", filepath.Join(s.outside, "secret")), dev(tar.TypeFifo, "p", 0, 0, mode(0o666))}
		},
		want: map[string]string{"p": "fifo 0666"},
	}, {
		name: "a hardlink to a symlink links the symlink, not the outside file",
		ents: func(s sandbox) []entry {
			return []entry{sym("s", filepath.Join(s.outside, "secret")), hlink("h", "s", mode(0o777))}
		},
		want: map[string]string{"h": "sym -> " + outsideToken + "/secret"},
	}, {
		name: "a hardlink target through an outside symlink is not the host file",
		ents: func(s sandbox) []entry { return []entry{sym("a", s.outside), hlink("h", "a/secret")} },
		// Not in this layer: left for the layers below (Lower is nil here).
		want: map[string]string{"h": `reg 0644 0:0 nlink=1 ""`},
	}, {
		name:    "a whiteout under an outside symlink",
		ents:    func(s sandbox) []entry { return []entry{sym("a", s.outside), reg("a/.wh.secret", "")} },
		wantErr: "a/.wh.secret",
	}, {
		name:    "an opaque marker under an outside symlink",
		ents:    func(s sandbox) []entry { return []entry{sym("a", s.outside), reg("a/.wh..wh..opq", "")} },
		wantErr: "a/.wh..wh..opq",
	}, {
		name:    "a symlink loop",
		ents:    func(s sandbox) []entry { return []entry{sym("l", "l"), reg("l/x", "x")} },
		wantErr: "l/x",
	}, {
		name:    "a parent that is a file",
		ents:    func(s sandbox) []entry { return []entry{reg("f", "x"), reg("f/x", "x")} },
		wantErr: "f/x",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			both(t, func(t *testing.T) {
				s := newSandbox(t)
				res, err := apply(t, s.layer, Options{}, tc.ents(s)...)
				for _, l := range res.Pending {
					l.Close()
				}
				s.check(t)
				if tc.wantErr != "" {
					if err == nil {
						t.Fatalf("Apply succeeded, want an error naming %q", tc.wantErr)
					}
					if !strings.Contains(err.Error(), `"`+tc.wantErr+`"`) || strings.Contains(err.Error(), "\n") {
						t.Errorf("error %q: want one line naming %q", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				got := listing(t, s.layer, "")
				for p, want := range tc.want {
					p = strings.ReplaceAll(p, outsideToken, strings.TrimPrefix(s.outside, "/"))
					want = ownedByUs(strings.ReplaceAll(want, outsideToken, s.outside))
					if got[p] != want {
						t.Errorf("%s is %q, want %q\ntree:\n%s", p, got[p], want, dump(got))
					}
				}
				checkSize(t, s.layer, res)
			})
		})
	}
	// The opaque case must not have marked the outside directory either.
	t.Run("no xattr outside", func(t *testing.T) {
		s := newSandbox(t)
		apply(t, s.layer, Options{}, sym("a", s.outside), reg("a/.wh..wh..opq", ""))
		if _, err := unix.Lgetxattr(s.outside, opaqueXattr, make([]byte, 8)); err == nil {
			t.Errorf("%s has %s", s.outside, opaqueXattr)
		}
	})
}

// outsideToken stands in expectations for the sandbox's outside directory, which is
// only known once the sandbox exists.
const outsideToken = "OUTSIDE"

func TestApplyLinkedFileNotChangedThroughLayer(t *testing.T) {
	// The lower layer's file must keep its own metadata when this layer's link entry
	// says otherwise: it is copied, not linked.
	requireRoot(t, "owners of the copy are part of the check")
	both(t, func(t *testing.T) {
		s := newSandbox(t)
		lowerDir := t.TempDir()
		lowerFile := filepath.Join(lowerDir, "tool")
		if err := os.WriteFile(lowerFile, []byte("lower content"), 0o755); err != nil {
			t.Fatal(err)
		}
		var asked []string
		lower := func(name string) (string, error) {
			asked = append(asked, name)
			if name == "/usr/bin/tool" {
				return lowerFile, nil
			}
			return "", os.ErrNotExist
		}
		res := mustApply(t, s.layer, Options{Lower: lower},
			hlink("usr/bin/tool2", "usr/bin/tool", mode(0o4700), owner(5, 6)),
			hlink("/usr/bin/tool3", "/usr/bin/tool", mode(0o4700), owner(5, 6)),
		)
		if got, want := describe(t, lowerFile), `reg 0755 0:0 nlink=1 "lower content"`; got != want {
			t.Errorf("lower file is %s, want %s", got, want)
		}
		for _, p := range []string{"usr/bin/tool2", "usr/bin/tool3"} {
			if got, want := describe(t, filepath.Join(s.layer, p)), `reg 4700 5:6 nlink=2 "lower content"`; got != want {
				t.Errorf("%s is %s, want %s", p, got, want)
			}
		}
		if res.Size != int64(len("lower content")) {
			t.Errorf("Size = %d, want %d", res.Size, len("lower content"))
		}
		if len(asked) != 1 || asked[0] != "/usr/bin/tool" {
			t.Errorf("Lower asked for %q, want once for /usr/bin/tool", asked)
		}
		_, err := apply(t, t.TempDir(), Options{Lower: lower}, hlink("x", "usr/bin/missing"))
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), "/usr/bin/missing") {
			t.Errorf("link to a missing lower file: %v; want ErrInvalid naming x and the target", err)
		}
		s.check(t)
	})
}
