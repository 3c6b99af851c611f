package sbom

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
)

func FuzzDpkgStatus(f *testing.F) {
	f.Add([]byte("Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nSource: glibc (2.36-9)\n\n"))
	f.Add([]byte("Package: x\nDescription: a\n b\n .\n"))
	f.Add([]byte(" leading continuation\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := parseDpkgStatus(b)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func FuzzApkInstalled(f *testing.F) {
	f.Add([]byte("P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:zlib\nV:1.3-r0\n"))
	f.Add([]byte("P:\nV:\n\n\nX"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _, err := parseApkInstalled(b)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func FuzzRpmHeader(f *testing.F) {
	// a header with NAME and VERSION strings
	data := []byte("bash\x005.1\x00")
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{2, uint32(len(data)),
		tagName, typeString, 0, 1,
		tagVersion, typeString, 5, 1})
	b.Write(data)
	f.Add(b.Bytes())
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 3, 0xeb, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 1, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseRpmHeader(b)
	})
}

func FuzzPythonMetadata(f *testing.F) {
	f.Add([]byte("Metadata-Version: 2.1\nName: Flask\nVersion: 2.3.2\nClassifier: License :: OSI Approved :: BSD License\n\nbody"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parsePythonMetadata(b)
	})
}

func FuzzPackageJSON(f *testing.F) {
	f.Add([]byte(`{"name":"a","version":"1","licenses":[{"type":"MIT"},"ISC",[["x"]]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		parsePackageJSON(b)
	})
}

func FuzzJar(f *testing.F) {
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseJar(bytes.NewReader(b), int64(len(b)), "/x.jar")
	})
}

func FuzzBinary(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseBinary(bytes.NewReader(b), int64(len(b)), "busybox")
	})
}

type bytesLayer []byte

func (b bytesLayer) DiffID() digest.Digest { return digest.FromBytes(b) }
func (b bytesLayer) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b)), nil
}

// FuzzLayerTar feeds arbitrary bytes as a layer stream: the inventory must
// turn any damage into warnings, never panic or fail.
func FuzzLayerTar(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b, 0x08})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Inventory(context.Background(), []Layer{bytesLayer(b)}, WithTempDir(t.TempDir())); err != nil {
			t.Fatal(err)
		}
	})
}
