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
// file itself, with no copy; a gzipped one is not read as a file.
func TestLoadReadsAFileWhereItLies(t *testing.T) {
	archive, _, _, _ := twoImages()
	for _, tt := range []struct {
		name      string
		body      []byte
		wantPlain bool
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
			if f, ok := plainArchiveFile(file); ok != tt.wantPlain || ok && f != file {
				t.Fatalf("read as the file itself: %v, want %v", ok, tt.wantPlain)
			}
		})
	}
}

// manifestFirst rewrites an archive with manifest.json and the configs
// before the layers.
func manifestFirst(t *testing.T, archive []byte) []byte {
	t.Helper()
	type entry struct {
		h    *tar.Header
		body []byte
	}
	var first, rest []entry
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if strings.HasSuffix(h.Name, ".json") && !strings.Contains(h.Name, "/") {
			first = append([]entry{{h, b}}, first...) // manifest.json, written last, first
		} else {
			rest = append(rest, entry{h, b})
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range append(first, rest...) {
		if err := tw.WriteHeader(e.h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	tw.Close()
	return buf.Bytes()
}

// TestLoadStreams loads archives from a stream: one that tells its images
// before their layers is unpacked as it goes, with no copy; one in docker
// save's order is spooled. Both store the same images.
func TestLoadStreams(t *testing.T) {
	ctx := context.Background()
	archive, base, a, _ := twoImages()
	// A layer under two parents: the archive holds it once.
	shared := testimage.DockerArchive(
		testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, base, a), Layers: [][]byte{base, a}, Tags: []string{"one:1"}},
		testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, a), Layers: [][]byte{a}, Tags: []string{"two:1"}},
	)
	tests := []struct {
		name      string
		body      []byte
		wantSpool bool
	}{
		{"docker save's order", archive, true},
		{"manifest first", manifestFirst(t, archive), false},
		{"manifest first, gzip", testimage.Gzip(manifestFirst(t, archive)), false},
		{"a layer under two parents", manifestFirst(t, shared), false},
	}
	defer func(was int64) { headLimit = was }(headLimit)
	headLimit = 4 << 10 // less than a layer: small files only
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := openEngine(t)
			before := spooled.Load()
			res, err := e.Load(ctx, bytes.NewReader(tt.body), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := spooled.Load() > before; got != tt.wantSpool {
				t.Errorf("spooled %v, want %v", got, tt.wantSpool)
			}
			want := load(t, openEngine(t), tt.body) // read as a file would be
			if len(res.Images) != len(want.Images) {
				t.Fatalf("loaded %+v, want %+v", res, want)
			}
			for i := range res.Images {
				if res.Images[i].ID != want.Images[i].ID {
					t.Errorf("image %d: %s, want %s", i, res.Images[i].ID, want.Images[i].ID)
				}
			}
			checkStore(t, e)
			var saved bytes.Buffer
			if err := e.Save(ctx, &saved, []string{strings.Split(res.Images[0].Tags[0], ":")[0]}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLoadStreamLinkedLayer: a stream whose image links its layer to
// another image's (as docker save writes a shared layer), that layer
// already in the store, unpacks it from the store.
func TestLoadStreamLinkedLayer(t *testing.T) {
	ctx := context.Background()
	_, base, a, _ := twoImages()
	cfgOne, cfgTwo := testimage.Config([]string{"sh"}, a), testimage.Config([]string{"sh"}, base, a)
	e := openEngine(t)
	load(t, e, testimage.DockerArchive(testimage.ArchiveImage{Config: cfgOne, Layers: [][]byte{a}, Tags: []string{"one:1"}}))
	manifest := `[{"Config":"one.json","RepoTags":["one:1"],"Layers":["la/layer.tar"]},` +
		`{"Config":"two.json","RepoTags":["two:1"],"Layers":["lb/layer.tar","l2/layer.tar"]}]`
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
		link string
	}{
		{"manifest.json", []byte(manifest), ""}, {"one.json", cfgOne, ""}, {"two.json", cfgTwo, ""},
		{"la/layer.tar", a, ""}, {"lb/layer.tar", base, ""}, {"l2/layer.tar", nil, "../la/layer.tar"},
	} {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.link != "" {
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.link
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	before := spooled.Load()
	res, err := e.Load(ctx, bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if spooled.Load() != before || len(res.Images) != 2 || res.Images[1].ID != digest.FromBytes(cfgTwo) {
		t.Fatalf("loaded %+v (spooled %v), want both images from the stream", res, spooled.Load() != before)
	}
	checkStore(t, e)
}
