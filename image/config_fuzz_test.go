package image

import (
	"errors"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

// FuzzParseConfig: an image config from a registry or an archive parses,
// or is refused as invalid or unsupported; one that parses gives a chain
// ID per layer and pairs its history with layers that exist.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + d1 + `","` + d2 + `"]},"history":[{"created_by":"a"},{"empty_layer":true},{"created_by":"b"},{"created_by":"c"}]}`))
	f.Add([]byte(`{"config":{"Cmd":"sh","Entrypoint":["a","b"],"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":[]}}`))
	f.Add([]byte(`{"rootfs":{"type":"zfs"}}`))
	f.Add([]byte(`{"rootfs":{"diff_ids":["sha256:zz"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrUnsupported) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if ids := ChainIDs(c.RootFS.DiffIDs); len(ids) != len(c.RootFS.DiffIDs) {
			t.Fatalf("%d chain IDs for %d layers", len(ids), len(c.RootFS.DiffIDs))
		}
		h := c.LayerHistory()
		if len(h) != len(c.History) {
			t.Fatalf("%d history pairs for %d steps", len(h), len(c.History))
		}
		for _, i := range h {
			if i < -1 || i >= len(c.RootFS.DiffIDs) {
				t.Fatalf("history paired with layer %d of %d", i, len(c.RootFS.DiffIDs))
			}
		}
	})
}
