package archive

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

func compress(t *testing.T, c image.Compression, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch c {
	case image.Gzip:
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
	case image.Zstd:
		zw, _ := zstd.NewWriter(&b)
		zw.Write(data)
		zw.Close()
	default:
		b.Write(data)
	}
	return b.Bytes()
}

func TestDecompress(t *testing.T) {
	layer := buildTar(t, reg("etc/motd", strings.Repeat("welcome ", 1000)), dir("var/"))
	for _, c := range []image.Compression{image.Uncompressed, image.Gzip, image.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			blob := compress(t, c, layer)
			rc, got, err := DecompressAuto(bytes.NewReader(blob))
			if err != nil {
				t.Fatal(err)
			}
			if got != c {
				t.Errorf("detected %v, want %v", got, c)
			}
			out, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(out, layer) {
				t.Errorf("DecompressAuto: %d bytes, %v; want the layer back", len(out), err)
			}
			rc, err = Decompress(bytes.NewReader(blob), c)
			if err != nil {
				t.Fatal(err)
			}
			out, err = io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(out, layer) {
				t.Errorf("Decompress: %d bytes, %v; want the layer back", len(out), err)
			}
		})
	}
	t.Run("short stream", func(t *testing.T) {
		rc, c, err := DecompressAuto(strings.NewReader("ab"))
		if err != nil || c != image.Uncompressed {
			t.Fatalf("%v, %v", c, err)
		}
		if b, _ := io.ReadAll(rc); string(b) != "ab" {
			t.Errorf("read %q", b)
		}
	})
}

func TestDecompressCorrupt(t *testing.T) {
	blob := compress(t, image.Gzip, buildTar(t, reg("f", strings.Repeat("x", 100000))))
	blob[len(blob)-6] ^= 0xff // the CRC
	rc, _, err := DecompressAuto(bytes.NewReader(blob))
	if err == nil {
		_, err = io.ReadAll(rc)
	}
	if err == nil {
		t.Error("a gzip stream with a wrong checksum read without error")
	}
	if _, err := Decompress(strings.NewReader("not gzip"), image.Gzip); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Decompress of garbage as gzip: %v, want ErrInvalid", err)
	}
	if _, err := Decompress(strings.NewReader(""), image.Compression(42)); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("unknown compression: %v, want ErrUnsupported", err)
	}
}
