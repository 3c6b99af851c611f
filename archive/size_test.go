package archive

import (
	"archive/tar"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// TestSize: the size counted during extraction equals moby's directory.Size of the
// result, and both equal what Docker prints for these layers.
func TestSize(t *testing.T) {
	tests := []struct {
		name string
		ents []entry
		want int64
	}{
		{"files, empty files and directories", []entry{dir("d/"), reg("d/a", "12345"), reg("d/empty", "")}, 5},
		{"a symlink counts its target's length", []entry{sym("etc/localtime", "/usr/share/zoneinfo/UTC")}, 23},
		{"a hardlinked file counts once", []entry{reg("a", "12345"), hlink("b", "a"), hlink("c", "b")}, 5},
		{"a file written twice counts the last", []entry{reg("f", "0123456789"), reg("f", "abc")}, 3},
		{"a whiteout of an earlier file counts 0", []entry{reg("f", "1234567"), reg(".wh.f", "")}, 0},
		{"a whiteout of a dir full of files", []entry{reg("d/a", "aa"), reg("d/b/c", "ccc"), hlink("e", "d/a"), reg(".wh.d", "")}, 2},
		{"the original of a hardlink overwritten", []entry{reg("a", "12345"), hlink("b", "a"), reg("a", "xy")}, 7},
		{"a directory replaced by a file", []entry{reg("d/x", "xxxx"), reg("d/y", "yy"), reg("d", "f")}, 1},
		{"a symlink replaced by a file", []entry{sym("s", "target"), reg("s", "1")}, 1},
		{"AUFS link directory", []entry{reg(".wh..wh.plnk/1.2", "shared"), hlink("a", ".wh..wh.plnk/1.2"), reg(".wh..wh.plnk/3.4", "dropped")}, 6},
		{"devices count 0", []entry{dev(tar.TypeFifo, "p", 0, 0), dev(tar.TypeChar, "c", 1, 3)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if os.Geteuid() != 0 && strings.Contains(tc.name, "whiteout") {
				t.Skip("SKIPPED, needs root: whiteouts are character devices")
			}
			res := mustApply(t, t.TempDir(), Options{}, tc.ents...)
			if res.Size != tc.want {
				t.Errorf("Size = %d, want %d", res.Size, tc.want)
			}
		})
	}
}

// TestSizeRandom applies many random tars over a small set of names, so entries
// replace, link to and white out each other, and checks the counted size against a
// walk of the result every time.
func TestSizeRandom(t *testing.T) {
	requireRoot(t, "random tars contain whiteouts, which are character devices")
	names := []string{"a", "b", "d", "d/x", "d/y", "d/e/z", "l", "b/q"}
	rng := rand.New(rand.NewPCG(1, 2))
	applied := 0
	for i := range 400 {
		var ents []entry
		for range 1 + rng.IntN(12) {
			n := names[rng.IntN(len(names))]
			switch rng.IntN(7) {
			case 0, 1:
				ents = append(ents, reg(n, strings.Repeat("x", rng.IntN(40))))
			case 2:
				ents = append(ents, dir(n+"/"))
			case 3:
				ents = append(ents, sym(n, strings.Repeat("t", 1+rng.IntN(20))))
			case 4:
				target := names[rng.IntN(len(names))]
				if target == n {
					target = "a"
				}
				ents = append(ents, hlink(n, target))
			case 5:
				d, b := split(n)
				if d != "" {
					d += "/"
				}
				ents = append(ents, reg(d+".wh."+b, ""))
			case 6:
				ents = append(ents, dev(tar.TypeFifo, n, 0, 0))
			}
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			layer := t.TempDir()
			res, err := apply(t, layer, Options{}, ents...)
			if err != nil {
				return // links to a directory, a file as a parent: refused, fine
			}
			for _, l := range res.Pending {
				l.Close()
			}
			applied++
			checkSize(t, layer, res)
		})
	}
	if applied < 150 {
		t.Errorf("only %d of 400 random tars applied; the generator tests too little", applied)
	}
}
