package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/testimage"
)

// plainLayer has every kind of entry a layer holds, a name long enough for
// a PAX header, and zeros after the end marker, as some tools write.
func plainLayer() []byte {
	long := "usr/share/" + strings.Repeat("long-directory-name/", 8) + "file"
	tarball := testimage.Tar(
		testimage.File{Name: "etc/"},
		testimage.File{Name: "etc/hello", Body: "hi there"},
		testimage.File{Name: "etc/empty"},
		testimage.File{Name: "etc/link", Typeflag: '2', Linkname: "/etc/hello"},
		testimage.File{Name: "etc/hard", Typeflag: '1', Linkname: "etc/hello"},
		testimage.File{Name: "etc/.wh.gone"},
		testimage.File{Name: "var/"},
		testimage.File{Name: "var/.wh..wh..opq"},
		testimage.File{Name: long, Body: strings.Repeat("x", 5000)},
	)
	return append(tarball, make([]byte, 4096)...)
}

// sparseLayer is a tar GNU tar writes of a file with a hole, in format
// ("gnu" or "posix").
func sparseLayer(t *testing.T, format string) []byte {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("SKIPPED: no GNU tar to write a sparse layer")
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "holes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("data after a hole"), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "sparse.tar")
	if b, err := exec.Command("tar", "--sparse", "--format="+format, "-C", dir, "-cf", out, "holes").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: tar --sparse: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLayerTarRoundTrip unpacks layers as load and import do, keeping no
// blob but for the layers their files cannot give back, and reads each
// layer's tar back byte for byte.
func TestLayerTarRoundTrip(t *testing.T) {
	ctx := context.Background()
	dup := testimage.Tar(testimage.File{Name: "a", Body: "first"}, testimage.File{Name: "a", Body: "second, longer"})
	tests := []struct {
		name      string
		tarball   []byte
		compress  func([]byte) []byte
		mode      string // "reread" (load), "ifLossy" (import), "none"
		wantLossy bool
	}{
		{name: "plain", tarball: plainLayer(), mode: "reread"},
		{name: "plain, gzip", tarball: plainLayer(), compress: testimage.Gzip, mode: "reread"},
		{name: "plain, import", tarball: plainLayer(), mode: "ifLossy"},
		{name: "duplicate path", tarball: dup, mode: "reread", wantLossy: true},
		{name: "duplicate path, import", tarball: dup, mode: "ifLossy", wantLossy: true},
		{name: "GNU sparse", tarball: sparseLayer(t, "gnu"), mode: "reread", wantLossy: true},
		{name: "PAX sparse", tarball: sparseLayer(t, "posix"), mode: "reread", wantLossy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			blob := tt.tarball
			if tt.compress != nil {
				blob = tt.compress(blob)
			}
			diffID := digest.FromBytes(tt.tarball)
			u := Unpack{Blob: digest.FromBytes(blob), Size: int64(len(blob)), DiffID: diffID}
			switch tt.mode {
			case "reread":
				u.Reread = func() (io.Reader, error) { return bytes.NewReader(blob), nil }
			case "ifLossy":
				u.Blob, u.Size, u.BlobIfLossy = "", -1, true
			}
			res, err := s.Unpack(ctx, bytes.NewReader(blob), u)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("lossy: %q", res.Layer.Lossy)
			if (res.Layer.Lossy != "") != tt.wantLossy {
				t.Fatalf("lossy %q, want lossy %v", res.Layer.Lossy, tt.wantLossy)
			}
			if s.HasBlob(res.Blob) != tt.wantLossy || s.HasLayerTar(diffID) == tt.wantLossy {
				t.Fatalf("blob kept %v, tar-split kept %v; want the blob only for a lossy layer", s.HasBlob(res.Blob), s.HasLayerTar(diffID))
			}
			if ingest, _ := os.ReadDir(filepath.Join(s.root, ingestDir)); len(ingest) != 0 {
				t.Errorf("ingest leftovers: %v", ingest)
			}
			r, err := s.OpenLayerTar(ctx, diffID)
			if tt.wantLossy {
				if !errors.Is(err, errdefs.ErrNotFound) {
					t.Fatalf("OpenLayerTar of a lossy layer: %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, tt.tarball) {
				t.Fatalf("regenerated %d bytes (%v), want the %d bytes unpacked", len(got), err, len(tt.tarball))
			}
		})
	}
}

// TestLossyLayerWithoutBlobRefused: a layer its files cannot give back, and
// whose blob can be neither kept nor read again, is refused, leaving nothing.
func TestLossyLayerWithoutBlobRefused(t *testing.T) {
	s := openStore(t, t.TempDir())
	dup := testimage.Tar(testimage.File{Name: "a", Body: "first"}, testimage.File{Name: "a", Body: "second"})
	_, err := s.Unpack(context.Background(), bytes.NewReader(dup), Unpack{Size: -1, DiffID: digest.FromBytes(dup)})
	if !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("unpacked: %v, want ErrUnsupported", err)
	}
	if s.HasLayer(digest.FromBytes(dup)) {
		t.Fatal("the layer became visible")
	}
}

// TestCheckFindsFlippedByte: a byte changed in an unpacked file (its size
// the same) shows in system check and fails the regenerated tar.
func TestCheckFindsFlippedByte(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	tarball := plainLayer()
	diffID := digest.FromBytes(tarball)
	if _, err := s.Unpack(ctx, bytes.NewReader(tarball), Unpack{Size: -1, DiffID: diffID}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Check(ctx, nil); err != nil || len(r.Problems) != 0 {
		t.Fatalf("check of a sound store: %+v %v", r, err)
	}
	path := filepath.Join(s.LayerDir(diffID), "etc/hello")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, flip(b, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := s.Check(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], diffID.String()) || !strings.Contains(r.Problems[0], "etc/hello") {
		t.Fatalf("check after a flipped byte found %q, want the layer and its file", r.Problems)
	}
	lt, err := s.OpenLayerTar(ctx, diffID)
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Close()
	if _, err := io.Copy(io.Discard, lt); !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("reading the changed layer's tar: %v, want ErrDigestMismatch", err)
	}
}

// TestDropCompressed: a pulled layer keeps its compressed blob until
// DropCompressed, after which its tar still reads back; a lossy layer keeps
// its blob.
func TestDropCompressed(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	plain := plainLayer()
	dup := testimage.Tar(testimage.File{Name: "a", Body: "first"}, testimage.File{Name: "a", Body: "second"})
	var blobs []digest.Digest
	for _, tarball := range [][]byte{plain, dup} {
		gz := testimage.Gzip(tarball)
		res, err := s.Unpack(ctx, bytes.NewReader(gz), Unpack{Blob: digest.FromBytes(gz), Size: int64(len(gz)), DiffID: digest.FromBytes(tarball), KeepBlob: true})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Update(ctx, func(tx *Tx) error {
			return tx.AddLayerBlob(ctx, LayerBlob{DiffID: res.Layer.DiffID, Blob: res.Blob, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: res.BlobSize})
		})
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, res.Blob)
	}
	space, err := s.DropCompressed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.HasBlob(blobs[0]) || !s.HasBlob(blobs[1]) {
		t.Fatalf("after dropping: plain layer's blob kept %v, lossy layer's %v; want only the lossy one's", s.HasBlob(blobs[0]), s.HasBlob(blobs[1]))
	}
	if want := int64(len(testimage.Gzip(plain))); space != want {
		t.Errorf("reclaimed %d bytes, want %d", space, want)
	}
	r, err := s.OpenLayerTar(ctx, digest.FromBytes(plain))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the layer reads back as %d bytes (%v) after its blob was dropped", len(got), err)
	}
}

// TestUnreadableFileWithoutRoot: without root, a file whose mode denies
// reading it could not give its payload back, so its layer keeps a blob.
func TestUnreadableFileWithoutRoot(t *testing.T) {
	defer func(was bool) { asRoot = was }(asRoot)
	asRoot = false
	s := openStore(t, t.TempDir())
	tarball := testimage.Tar(testimage.File{Name: "etc/"}, testimage.File{Name: "etc/shadow", Body: "root:*:", Mode: 0o040})
	res, err := s.Unpack(context.Background(), bytes.NewReader(tarball), Unpack{Size: -1, DiffID: digest.FromBytes(tarball), BlobIfLossy: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Layer.Lossy, "etc/shadow") || !s.HasBlob(res.Blob) {
		t.Fatalf("lossy %q, blob kept %v; want the layer lossy for etc/shadow, its blob kept", res.Layer.Lossy, s.HasBlob(res.Blob))
	}
}
