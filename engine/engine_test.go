package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/testimage"
)

func openEngine(t *testing.T) *Engine {
	t.Helper()
	// Containers are only made here, never started: no runc is run.
	e, err := Open(context.Background(), Options{Root: t.TempDir(), Runtime: ctr.Options{RuncPath: "/nonexistent/runc", RunDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// twoImages builds an archive of two images sharing a base layer.
func twoImages() (archive []byte, base, a, b []byte) {
	base = testimage.Tar(testimage.File{Name: "bin/"}, testimage.File{Name: "bin/sh", Body: "#!shell", Mode: 0o755}, testimage.File{Name: "etc/localtime", Typeflag: '2', Linkname: "/usr/share/zoneinfo/UTC"})
	a = testimage.RandomTar(10, 5, 1000)
	b = testimage.RandomTar(11, 5, 2000)
	archive = testimage.DockerArchive(
		testimage.ArchiveImage{Config: testimage.Config([]string{"sh"}, base, a), Layers: [][]byte{base, testimage.Gzip(a)}, Tags: []string{"alpha:1", "alpha:latest"}},
		testimage.ArchiveImage{Config: testimage.Config([]string{"sh", "-c", "b"}, base, b), Layers: [][]byte{base, b}, Tags: []string{"bravo"}},
	)
	return
}

func load(t *testing.T, e *Engine, archive []byte) LoadResult {
	t.Helper()
	res, err := e.Load(context.Background(), bytes.NewReader(archive), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestLoadListInspectHistory(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	archive, base, a, _ := twoImages()
	res := load(t, e, archive)
	if len(res.Images) != 2 || strings.Join(res.Images[0].Tags, ",") != "alpha:1,alpha:latest" || res.Images[1].Tags[0] != "bravo:latest" {
		t.Fatalf("loaded %+v", res)
	}
	imgs, err := e.Images(ctx)
	if err != nil || len(imgs) != 2 {
		t.Fatalf("Images: %v %v", imgs, err)
	}
	insp, err := e.InspectImage(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	wantID := digest.FromBytes(testimage.Config([]string{"sh"}, base, a))
	if insp.ID != wantID.String() {
		t.Errorf("ID %s, want %s", insp.ID, wantID)
	}
	if len(insp.RootFS.Layers) != 2 || insp.RootFS.Layers[1] != digest.FromBytes(a).String() {
		t.Errorf("RootFS %v", insp.RootFS.Layers)
	}
	baseSize := int64(len("#!shell") + len("/usr/share/zoneinfo/UTC"))
	if insp.Size != baseSize+5*1000 {
		t.Errorf("Size %d, want %d", insp.Size, baseSize+5000)
	}
	if insp.Created != testimage.Epoch.Add(time.Hour).Format(time.RFC3339Nano) {
		t.Errorf("Created %s", insp.Created)
	}
	hist, err := e.History(ctx, "alpha:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[0].ID != wantID.String() || hist[1].ID != "<missing>" || hist[0].Size != 0 || hist[1].Size != 5000 || hist[2].Size != baseSize {
		t.Fatalf("history %+v", hist)
	}
	for _, name := range []string{wantID.String(), wantID.Encoded()[:12], "sha256:" + wantID.Encoded()[:8], "localhost:5000/library/alpha:1"} {
		if r, err := e.Resolve(ctx, name); err != nil || r.ID != wantID {
			t.Errorf("Resolve(%q) = %v, %v", name, r.ID, err)
		}
	}
	if _, err := e.Resolve(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "No such image: nope" {
		t.Errorf("missing image: %v", err)
	}
	report, err := e.Check(ctx, nil)
	if err != nil || len(report.Problems) > 0 {
		t.Fatalf("check: %v %v", report.Problems, err)
	}
}

func TestLoadTwiceAndSaveRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	archive, _, _, _ := twoImages()
	load(t, e, archive)
	load(t, e, archive) // everything present: nothing changes
	var buf bytes.Buffer
	if err := e.Save(ctx, &buf, []string{"alpha", "bravo:latest"}); err != nil {
		t.Fatal(err)
	}
	e2 := openEngine(t)
	res := load(t, e2, buf.Bytes())
	if len(res.Images) != 2 {
		t.Fatalf("round trip loaded %+v", res)
	}
	for _, name := range []string{"alpha:1", "alpha:latest", "bravo"} {
		i1, err1 := e.InspectImage(ctx, name)
		i2, err2 := e2.InspectImage(ctx, name)
		if err1 != nil || err2 != nil || i1.ID != i2.ID || i1.Size != i2.Size {
			t.Errorf("%s: %v %v / %v %v", name, i1.ID, err1, i2.ID, err2)
		}
	}
	if r, _ := e2.Check(ctx, nil); len(r.Problems) > 0 {
		t.Fatal(r.Problems)
	}
}

func TestLoadRejectsBadArchives(t *testing.T) {
	ctx := context.Background()
	base := testimage.Tar(testimage.File{Name: "a", Body: "a"})
	wrong := testimage.Tar(testimage.File{Name: "a", Body: "b"})
	cases := map[string][]byte{
		"not a tar":     []byte("hello"),
		"no manifest":   testimage.Tar(testimage.File{Name: "x", Body: "y"}),
		"wrong diff id": testimage.DockerArchive(testimage.ArchiveImage{Config: testimage.Config(nil, base), Layers: [][]byte{wrong}, Tags: []string{"bad"}}),
	}
	for name, archive := range cases {
		t.Run(name, func(t *testing.T) {
			e := openEngine(t)
			if _, err := e.Load(ctx, bytes.NewReader(archive), nil); err == nil {
				t.Fatal("loaded")
			}
			if imgs, _ := e.Images(ctx); len(imgs) != 0 {
				t.Fatalf("images after a failed load: %v", imgs)
			}
			if r, _ := e.Check(ctx, nil); len(r.Problems) > 0 {
				t.Fatal(r.Problems)
			}
		})
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	rootfs := testimage.Tar(testimage.File{Name: "hello", Body: "world"})
	id, err := e.Import(ctx, io.NopCloser(bytes.NewReader(testimage.Gzip(rootfs))), ImportOptions{Ref: "imported:v1", Changes: []string{`CMD ["/hello"]`}})
	if err != nil {
		t.Fatal(err)
	}
	insp, err := e.InspectImage(ctx, "imported:v1")
	if err != nil || insp.ID != id.String() {
		t.Fatalf("%v %v", insp.ID, err)
	}
	if insp.Comment != "Imported from -" || insp.Config.Cmd[0] != "/hello" || insp.RootFS.Layers[0] != digest.FromBytes(rootfs).String() || insp.Size != 5 {
		t.Fatalf("inspect %+v", insp)
	}
	hist, _ := e.History(ctx, "imported:v1")
	if len(hist) != 1 || hist[0].Comment != "Imported from -" || hist[0].Size != 5 {
		t.Fatalf("history %+v", hist)
	}
}

// addContainer makes a container of the image (not started) and returns
// its ID.
func addContainer(t *testing.T, e *Engine, imageName string) string {
	t.Helper()
	c, err := e.CreateContainer(context.Background(), ctr.CreateOptions{Image: imageName, Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestRemoveRules(t *testing.T) {
	ctx := context.Background()
	type step struct {
		name    string
		force   bool
		running bool
		want    []string // Untagged:/Deleted: prefixes of the records, or the error
		err     string
	}
	tests := []struct {
		name      string
		container bool
		steps     []step
	}{
		{"one of two tags only untags", false, []step{
			{name: "alpha:1", want: []string{"Untagged: alpha:1"}},
			{name: "alpha", want: []string{"Untagged: alpha:latest", "Deleted: sha256:", "Deleted: sha256:"}},
		}},
		{"last tag in use by a container is refused", true, []step{
			{name: "bravo", err: `conflict: unable to remove repository reference "bravo" (must force) - container 1a2b3c4d5e6f is using its referenced image`},
			{name: "bravo", force: true, running: true, want: []string{"Untagged: bravo:latest"}},
		}},
		{"ID with a stopped container must be forced", true, []step{
			{name: "ID", err: "(must be forced) - image is being used by stopped container 1a2b3c4d5e6f"},
			{name: "ID", force: true, want: []string{"Untagged: bravo:latest", "Deleted: sha256:"}},
		}},
		{"ID with a running container cannot be forced", true, []step{
			{name: "ID", force: true, running: true, err: "(cannot be forced) - image is being used by running container 1a2b3c4d5e6f"},
		}},
		{"ID with tags in several repositories must be forced", false, []step{
			{name: "tag", want: nil},
			{name: "ID", err: "(must be forced) - image is referenced in multiple repositories"},
			{name: "ID", force: true, want: []string{"Untagged: bravo:latest", "Untagged: other:latest", "Deleted: sha256:", "Deleted: sha256:"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := openEngine(t)
			archive, _, _, _ := twoImages()
			load(t, e, archive)
			bravo, _ := e.Resolve(ctx, "bravo")
			ctr := "no container"
			if tt.container {
				ctr = addContainer(t, e, "bravo")
			}
			for _, s := range tt.steps {
				if s.name == "tag" {
					if err := e.Tag(ctx, "bravo", "other"); err != nil {
						t.Fatal(err)
					}
					continue
				}
				name := s.name
				if name == "ID" {
					name = bravo.ID.Encoded()[:12]
				}
				e.running = func(context.Context, string) bool { return s.running }
				items, err := e.Remove(ctx, name, s.force)
				if s.err != "" {
					s.err = strings.ReplaceAll(s.err, "1a2b3c4d5e6f", ctr[:min(12, len(ctr))])
					if err == nil || !strings.Contains(err.Error(), s.err) || !errors.Is(err, errdefs.ErrConflict) {
						t.Fatalf("rmi %s: %v, want %q", name, err, s.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("rmi %s: %v", name, err)
				}
				var got []string
				for _, it := range items {
					if it.Untagged != "" {
						got = append(got, "Untagged: "+it.Untagged)
					} else {
						got = append(got, "Deleted: "+it.Deleted)
					}
				}
				if len(got) != len(s.want) {
					t.Fatalf("rmi %s: %q, want %q", name, got, s.want)
				}
				for i, w := range s.want {
					if !strings.HasPrefix(got[i], w) {
						t.Fatalf("rmi %s: %q, want %q", name, got, s.want)
					}
				}
			}
			if r, _ := e.Check(ctx, nil); len(r.Problems) > 0 {
				t.Fatal(r.Problems)
			}
		})
	}
}

func TestRemoveKeepsSharedLayersAndPrune(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	archive, base, _, _ := twoImages()
	load(t, e, archive)
	items, err := e.Remove(ctx, "bravo", false)
	if err != nil {
		t.Fatal(err)
	}
	// Untagged, the image, and its top layer only: the base is alpha's too.
	if len(items) != 3 || items[2].Deleted == "" {
		t.Fatalf("rmi bravo: %+v", items)
	}
	if !e.store.HasLayer(digest.FromBytes(base)) {
		t.Fatal("shared base layer removed")
	}
	// Untag alpha entirely but leave it dangling through a container, then prune -a.
	rep, err := e.Prune(ctx, true, nil)
	if err != nil || rep.SpaceReclaimed == 0 {
		t.Fatalf("prune -a: %+v %v", rep, err)
	}
	if imgs, _ := e.Images(ctx); len(imgs) != 0 {
		t.Fatalf("images after prune -a: %v", imgs)
	}
	if r, _ := e.Check(ctx, nil); len(r.Problems) > 0 || r.Blobs != 0 || r.Layers != 0 {
		t.Fatalf("store after prune -a: %+v", r)
	}
}
