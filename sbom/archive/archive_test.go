package archive_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/archive"
	"github.com/berth-dev/berth/sbom/sbomtest"
)

func layers() []*sbomtest.Layer {
	return []*sbomtest.Layer{
		sbomtest.NewLayer(
			sbomtest.File("etc/os-release", []byte("ID=alpine\nVERSION_ID=3.19.1\n")),
			sbomtest.File("lib/apk/db/installed", []byte("P:musl\nV:1.2.4-r2\n\nP:zlib\nV:1.3-r0\n")),
		),
		sbomtest.NewLayer(
			sbomtest.Whiteout("lib/apk/db/installed"),
			sbomtest.File("app/node_modules/lodash/package.json", []byte(`{"name":"lodash","version":"4.17.21"}`)),
		),
	}
}

func names(t *testing.T, ls []sbom.Layer) []string {
	t.Helper()
	s, err := sbom.Inventory(context.Background(), ls)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) > 0 {
		t.Errorf("warnings: %v", s.Warnings)
	}
	var out []string
	for _, p := range s.Packages {
		out = append(out, p.Name+"@"+p.Version+"#"+p.Layer.DiffID.String())
	}
	return out
}

func writeArchive(t *testing.T) (string, []sbom.Layer) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	var direct []sbom.Layer
	for i, l := range layers() {
		p := filepath.Join(dir, "layer"+string(rune('0'+i))+".tar")
		if err := os.WriteFile(p, l.Tar, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		direct = append(direct, l)
	}
	out := filepath.Join(dir, "image.tar")
	if err := archive.WriteDockerArchive(out, "example/app:1", paths...); err != nil {
		t.Fatal(err)
	}
	return out, direct
}

func TestDockerArchiveRoundTrip(t *testing.T) {
	out, direct := writeArchive(t)
	img, err := archive.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if img.Name != "example/app:1" || len(img.Layers) != 2 {
		t.Fatalf("opened %q with %d layers", img.Name, len(img.Layers))
	}
	want := names(t, direct)
	if got := names(t, img.Layers); !slices.Equal(got, want) || len(want) != 1 {
		t.Errorf("got %v, want %v", got, want)
	}
}

// skopeo, a real peer, converts the archive to an OCI layout with gzip
// layers and back to a docker-archive; berth reads all three alike.
func TestSkopeoConversions(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed (apt-get install skopeo): it makes the OCI layout this test reads")
	}
	out, direct := writeArchive(t)
	want := names(t, direct)
	layout := filepath.Join(t.TempDir(), "oci")
	again := filepath.Join(t.TempDir(), "again.tar")
	for _, args := range [][]string{
		{"copy", "--dest-compress-format", "gzip", "docker-archive:" + out, "oci:" + layout + ":app"},
		{"copy", "oci:" + layout + ":app", "docker-archive:" + again + ":example/again:2"},
	} {
		if b, err := exec.Command("skopeo", args...).CombinedOutput(); err != nil {
			t.Fatalf("skopeo %v: %v\n%s", args, err, b)
		}
	}
	for _, p := range []string{layout, again} {
		img, err := archive.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(t, img.Layers); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", p, got, want)
		}
		img.Close()
	}
}

func TestOpenRejectsOtherFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.tar")
	os.WriteFile(p, []byte("not a tar at all, just text that is long enough to fill a header block maybe"), 0o644)
	if _, err := archive.Open(p); err == nil {
		t.Error("opened a non-archive")
	}
	if _, err := archive.Open(t.TempDir()); err == nil {
		t.Error("opened an empty directory")
	}
}
