package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"testing"
)

var errTooBig = errors.New("layer past the fuzzing cap")

// FuzzApply feeds arbitrary bytes to Apply: whatever it makes of them, nothing may
// appear outside the layer directory and the counted size must match a walk.
func FuzzApply(f *testing.F) {
	for _, ents := range [][]entry{
		{dir("etc/"), reg("etc/passwd", "root"), sym("etc/localtime", "/usr/share/zoneinfo/UTC"), hlink("etc/pw", "etc/passwd")},
		{sym("a", "../outside"), reg("a/pwned", "x")},
		{sym("a", "/"), reg("a/x", "x"), reg("a/.wh.x", "")},
		{reg("../../etc/passwd", "x")},
		{hlink("h", "../outside/secret")},
		{dir("d/"), reg("d/.wh..wh..opq", ""), dev(tar.TypeFifo, "d/p", 0, 0), reg(".wh..wh.plnk/1", "1"), hlink("l", ".wh..wh.plnk/1")},
		{reg("f", "1"), dir("f/"), sym("f", "f"), reg("f", "2")},
	} {
		f.Add(buildTar(f, ents...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSandbox(t)
		// As the store does: a header may declare a sparse file of exabytes,
		// read back as zeros for ever without a cap.
		var total int64
		reserve := func(n int64) error {
			if total += n; total > 64<<20 {
				return errTooBig
			}
			return nil
		}
		res, err := Apply(context.Background(), s.layer, bytes.NewReader(data), Options{Reserve: reserve})
		for _, l := range res.Pending {
			l.Close()
		}
		s.check(t)
		if err == nil {
			checkSize(t, s.layer, res)
		}
	})
}
