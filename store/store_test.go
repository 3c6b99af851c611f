package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/testimage"
)

func openStore(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBlobWriterVerifiesBeforeVisible(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	data := []byte("hello blob")
	d := digest.FromBytes(data)

	w, err := s.NewBlobWriter(ctx, d, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello blub"))
	if _, err := w.Commit(ctx); !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("wrong content committed: %v", err)
	}
	if s.HasBlob(d) {
		t.Fatal("a blob with the wrong content became visible")
	}
	if _, err := os.Stat(s.ingestPath(d)); !os.IsNotExist(err) {
		t.Fatalf("mismatched ingest kept: %v", err)
	}

	got, err := s.WriteBlob(ctx, data)
	if err != nil || got != d {
		t.Fatalf("WriteBlob = %s, %v", got, err)
	}
	b, err := s.ReadBlob(d, 100)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadBlob = %q, %v", b, err)
	}
	fi, _ := os.Stat(s.blobPath(d))
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("blob mode %v, want read-only", fi.Mode())
	}
	if _, err := s.NewBlobWriter(ctx, d, -1); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("writer for a stored blob: %v", err)
	}
	if _, err := s.ReadBlob(d, 3); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("ReadBlob over its limit: %v", err)
	}
}

func TestBlobWriterResumes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	data := bytes.Repeat([]byte("0123456789"), 1000)
	d := digest.FromBytes(data)

	w, err := s.NewBlobWriter(ctx, d, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:4321])
	w.Close() // interrupted: the bytes stay for the next attempt

	w, err = s.NewBlobWriter(ctx, d, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 4321 {
		t.Fatalf("resumed at %d, want 4321", w.Offset())
	}
	w.Write(data[4321:])
	if got, err := w.Commit(ctx); err != nil || got != d {
		t.Fatalf("Commit = %s, %v", got, err)
	}
}

func TestBlobWriterSizeEnforced(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	data := []byte("abcdef")
	d := digest.FromBytes(data)
	w, _ := s.NewBlobWriter(ctx, d, 3)
	if _, err := w.Write(data); !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("writing past the announced size: %v", err)
	}
	w.Discard()
	if s.HasBlob(d) {
		t.Fatal("oversized blob stored")
	}
}

func TestConcurrentWritersOfOneBlob(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	data := bytes.Repeat([]byte("x"), 1<<20)
	d := digest.FromBytes(data)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, root) // separate handles, as separate processes have
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			w, err := s.NewBlobWriter(ctx, d, int64(len(data)))
			if errors.Is(err, errdefs.ErrAlreadyExists) {
				return
			}
			if err != nil {
				errs <- err
				return
			}
			w.Truncate()
			w.Write(data)
			if _, err := w.Commit(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := openStore(t, root)
	if got, _ := hashFile(s.blobPath(d), digest.SHA256); got != d {
		t.Fatalf("blob hashes to %s", got)
	}
}

type layerCase struct {
	name      string
	mediaType string
	encode    func([]byte) []byte
}

var layerCases = []layerCase{
	{"uncompressed", "application/vnd.oci.image.layer.v1.tar", func(b []byte) []byte { return b }},
	{"gzip", image.MediaTypeDockerLayer, testimage.Gzip},
	{"zstd", "application/vnd.oci.image.layer.v1.tar+zstd", testimage.Zstd},
	{"gzip sniffed", "", testimage.Gzip},
	{"zstd sniffed", "", testimage.Zstd},
}

func TestUnpack(t *testing.T) {
	ctx := context.Background()
	for _, tc := range layerCases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			tarball := testimage.Tar(testimage.File{Name: "etc/"}, testimage.File{Name: "etc/hello", Body: "hi there"}, testimage.File{Name: "etc/link", Typeflag: '2', Linkname: "/etc/hello"})
			blob := tc.encode(tarball)
			diffID := digest.FromBytes(tarball)
			res, err := s.Unpack(ctx, bytes.NewReader(blob), Unpack{MediaType: tc.mediaType, Blob: digest.FromBytes(blob), Size: int64(len(blob)), DiffID: diffID, KeepBlob: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Layer.ChainID != diffID || res.Blob != digest.FromBytes(blob) {
				t.Fatalf("unpacked %+v", res)
			}
			if want := int64(len("hi there") + len("/etc/hello")); res.Layer.Size != want {
				t.Errorf("size %d, want %d", res.Layer.Size, want)
			}
			b, err := os.ReadFile(filepath.Join(s.LayerDir(diffID), "etc/hello"))
			if err != nil || string(b) != "hi there" {
				t.Fatalf("unpacked file: %q, %v", b, err)
			}
			if !s.HasBlob(res.Blob) {
				t.Error("blob not kept")
			}
			info, err := s.Layer(diffID)
			if err != nil || info != res.Layer {
				t.Errorf("Layer() = %+v, %v", info, err)
			}
		})
	}
}

func TestUnpackRejectsWrongDigests(t *testing.T) {
	ctx := context.Background()
	tarball := testimage.Tar(testimage.File{Name: "a", Body: "a"})
	other := testimage.Tar(testimage.File{Name: "b", Body: "b"})
	gz := testimage.Gzip(tarball)
	tests := []struct {
		name string
		u    Unpack
		body []byte
	}{
		{"wrong diff id", Unpack{DiffID: digest.FromBytes(other), KeepBlob: true, Size: -1}, gz},
		{"wrong blob digest", Unpack{Blob: digest.FromBytes(other), DiffID: digest.FromBytes(tarball), KeepBlob: true, Size: -1}, gz},
		{"truncated gzip", Unpack{DiffID: digest.FromBytes(tarball), KeepBlob: true, Size: -1}, gz[:len(gz)/2]},
		{"flipped bit", Unpack{Blob: digest.FromBytes(gz), DiffID: digest.FromBytes(tarball), KeepBlob: true, Size: -1}, flip(gz, len(gz)/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			_, err := s.Unpack(ctx, bytes.NewReader(tt.body), tt.u)
			if err == nil {
				t.Fatal("unpacked")
			}
			if s.HasLayer(tt.u.DiffID) || s.HasLayer(digest.FromBytes(tarball)) {
				t.Fatal("a layer became visible")
			}
			entries, _ := os.ReadDir(filepath.Join(s.root, blobsDir, "sha256"))
			if len(entries) != 0 {
				t.Fatalf("blobs stored: %v", entries)
			}
			tmp, _ := os.ReadDir(filepath.Join(s.root, layersDir, layerTmpDir))
			if len(tmp) != 0 {
				t.Fatalf("unpacking leftovers: %v", tmp)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x10
	return c
}

func TestUnpackCopiesHardlinksIntoLowerLayers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	l1 := testimage.Tar(testimage.File{Name: "etc/"}, testimage.File{Name: "etc/conf", Body: "shared", Mode: 0o644}, testimage.File{Name: "gone", Body: "x"})
	l2 := testimage.Tar(testimage.File{Name: ".wh.gone"})
	l3 := testimage.Tar(testimage.File{Name: "etc/"}, testimage.File{Name: "etc/conf2", Typeflag: '1', Linkname: "etc/conf", Mode: 0o600})
	bad := testimage.Tar(testimage.File{Name: "again", Typeflag: '1', Linkname: "gone"})
	var parent digest.Digest
	var chains []digest.Digest
	for _, l := range [][]byte{l1, l2, l3} {
		ready := false
		res, err := s.Unpack(ctx, bytes.NewReader(l), Unpack{DiffID: digest.FromBytes(l), Parent: parent, Size: -1,
			ParentReady: func(context.Context) error { ready = true; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.Equal(l, l3); ready != want {
			t.Errorf("ParentReady called %v for layer %d, want %v", ready, len(chains), want)
		}
		parent = res.Layer.ChainID
		chains = append(chains, parent)
	}
	copied := filepath.Join(s.LayerDir(chains[2]), "etc/conf2")
	b, err := os.ReadFile(copied)
	if err != nil || string(b) != "shared" {
		t.Fatalf("copied link: %q %v", b, err)
	}
	var a, c unix.Stat_t
	unix.Stat(filepath.Join(s.LayerDir(chains[0]), "etc/conf"), &a)
	unix.Stat(copied, &c)
	if a.Ino == c.Ino {
		t.Fatal("the upper layer links into the lower layer's file")
	}
	if c.Mode&0o777 != 0o600 || a.Mode&0o777 != 0o644 {
		t.Errorf("modes: copy %o, lower %o", c.Mode&0o777, a.Mode&0o777)
	}
	info, _ := s.Layer(chains[2])
	if info.Size != int64(len("shared")) {
		t.Errorf("size of the layer with the copy: %d", info.Size)
	}
	// A link to a file a middle layer whited out finds nothing.
	if _, err := s.Unpack(ctx, bytes.NewReader(bad), Unpack{DiffID: digest.FromBytes(bad), Parent: chains[1], Size: -1}); err == nil {
		t.Fatal("linked to a whited-out file")
	}
}
