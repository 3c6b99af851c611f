package store

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/testimage"
)

// FuzzUnpack applies arbitrary bytes as a layer through the store: the
// extraction, the tar-split record and the caps at once. Whatever they
// are, the store is left with no layer being written; a layer its files
// can give back (not lossy) reads back byte for byte from its files and
// record, and a lossy one keeps its blob.
func FuzzUnpack(f *testing.F) {
	for _, b := range [][]byte{
		plainLayer(),
		testimage.Gzip(plainLayer()),
		testimage.Tar(testimage.File{Name: "a", Body: "first"}, testimage.File{Name: "a", Body: "second"}),
		testimage.Tar(testimage.File{Name: "d/"}, testimage.File{Name: "d/.wh..wh..opq"}, testimage.File{Name: "d", Body: "now a file"}),
	} {
		f.Add(b)
	}
	s, err := Open(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	// Small caps, so that a header declaring a huge file is refused at once.
	s.SetLimits(Limits{LayerBytes: 64 << 20, PullBytes: 64 << 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		res, err := s.Unpack(ctx, bytes.NewReader(data), Unpack{Size: -1, BlobIfLossy: true})
		if tmp, _ := os.ReadDir(filepath.Join(s.root, layersDir, layerTmpDir)); len(tmp) != 0 {
			t.Fatalf("layers left being written: %v", tmp)
		}
		if err != nil {
			return
		}
		if res.Layer.Lossy != "" {
			if !s.HasBlob(res.Blob) {
				t.Fatalf("a lossy layer (%s) without its blob", res.Layer.Lossy)
			}
			return
		}
		r, err := s.OpenLayerTar(ctx, res.Layer.ChainID)
		if err != nil {
			t.Fatalf("the layer's tar: %v", err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading the layer's tar: %v", err)
		}
		if res.Compression == image.Uncompressed && !bytes.Equal(got, data) {
			t.Fatalf("the layer reads back as %d bytes, unpacked from %d", len(got), len(data))
		}
	})
}
