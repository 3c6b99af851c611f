package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/registry/client"
)

// sparseTar is a layer GNU tar writes of a file with a hole.
func sparseTar(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "holes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("after the hole"), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "sparse.tar")
	if b, err := exec.Command("tar", "--sparse", "--format=gnu", "-C", dir, "-cf", out, "holes").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: no GNU tar to write a sparse layer: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// archiveEntries reads the files of a tar into a map.
func archiveEntries(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
}

// TestLoadedLayersWrittenOnce loads an image whose layers come in every
// form (plain, a path twice, GNU sparse): only the layers the files cannot
// give back keep a blob; save gives each layer's tar back byte for byte,
// and push sends the gzip of those very bytes, as before layers were kept
// as files.
func TestLoadedLayersWrittenOnce(t *testing.T) {
	ctx := context.Background()
	plain := append(testimage.RandomTar(21, 20, 3000), make([]byte, 2048)...)
	dup := testimage.Tar(testimage.File{Name: "etc/"}, testimage.File{Name: "etc/a", Body: "one"}, testimage.File{Name: "etc/a", Body: "two!"})
	sparse := sparseTar(t)
	layers := [][]byte{plain, dup, sparse}
	archive := testimage.DockerArchive(testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, layers...), Layers: layers, Tags: []string{"once:1"}})
	e := openEngine(t)
	load(t, e, archive)
	for i, l := range layers {
		wantBlob := i > 0 // the lossy ones
		if got := e.Store().HasBlob(digest.FromBytes(l)); got != wantBlob {
			t.Errorf("layer %d: blob kept %v, want %v", i, got, wantBlob)
		}
	}
	checkStore(t, e)
	du, err := e.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(du.KeptBlobs) != 2 || !strings.Contains(du.KeptBlobs[0].Why+du.KeptBlobs[1].Why, "twice") || !strings.Contains(du.KeptBlobs[0].Why+du.KeptBlobs[1].Why, "sparse") {
		t.Errorf("system df -v lists the blobs kept as %+v, want the two lossy layers', saying why", du.KeptBlobs)
	}

	var saved bytes.Buffer
	if err := e.Save(ctx, &saved, []string{"once:1"}); err != nil {
		t.Fatal(err)
	}
	files := archiveEntries(t, saved.Bytes())
	for i, l := range layers {
		if got := files[blobEntry(digest.FromBytes(l))]; !bytes.Equal(got, l) {
			t.Errorf("layer %d saved as %d bytes, loaded %d, not byte for byte", i, len(got), len(l))
		}
	}

	h := hubtest.New(t, hubtest.Options{})
	target := h.Host + "/test/once:1"
	if err := e.Tag(ctx, "once:1", target); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Push(ctx, target, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := client.New(client.Options{}).Repository(h.Host, "test/once").Manifest(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Parse()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
		if _, err := io.Copy(zw, bytes.NewReader(l)); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		if want := digest.FromBytes(gz.Bytes()); p.Manifest.Layers[i].Digest != want {
			t.Errorf("layer %d pushed as %s, want %s, the gzip of the loaded tar", i, p.Manifest.Layers[i].Digest, want)
		}
	}
}

// TestLoadReadsAFileWhereItLies: `load -i FILE` of a plain tar reads the
// file itself, with no copy; a gzipped one is decompressed into a copy.
func TestLoadReadsAFileWhereItLies(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	archive, _, _, _ := twoImages()
	for _, tt := range []struct {
		name     string
		body     []byte
		wantSame bool
	}{
		{"plain tar", archive, true},
		{"gzip", testimage.Gzip(archive), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "archive")
			if err := os.WriteFile(path, tt.body, 0o600); err != nil {
				t.Fatal(err)
			}
			file, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			f, cleanup, err := e.seekableArchive(ctx, file)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			if (f == file) != tt.wantSame {
				t.Fatalf("read the file itself: %v, want %v", f == file, tt.wantSame)
			}
		})
	}
}
