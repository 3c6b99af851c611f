package sbom_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
)

// blobLayer serves a layer as a registry blob: compressed, as the hub stores it.
type blobLayer struct {
	diffID digest.Digest
	blob   []byte
}

func (b blobLayer) DiffID() digest.Digest { return b.diffID }
func (b blobLayer) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b.blob)), nil
}

// Layers handed over as gzip or zstd blobs are read without unpacking them first.
func TestCompressedLayers(t *testing.T) {
	l := sbomtest.NewLayer(sbomtest.File("lib/apk/db/installed", []byte("P:musl\nV:1.2.4-r2\n")))
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(l.Tar)
	gw.Close()
	zw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(l.Tar)
	zw.Close()
	for name, blob := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		s, err := sbom.Inventory(context.Background(), []sbom.Layer{blobLayer{l.DiffID(), blob}})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Packages) != 1 || s.Packages[0].Name != "musl" || len(s.Warnings) != 0 {
			t.Errorf("%s: %+v", name, s)
		}
	}
}
