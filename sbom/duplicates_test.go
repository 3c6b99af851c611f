package sbom_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
)

// TestDuplicatePathsLastWins: a path given twice in one layer tar is what
// its last entry says, as Docker and containerd apply it: the layer
// unpacks so (archive.Apply) and inventories so, from the tar and from the
// unpacked directory alike (issue 16).
func TestDuplicatePathsLastWins(t *testing.T) {
	status := "var/lib/dpkg/status"
	tests := []struct {
		name    string
		entries []sbomtest.Entry
		want    string
	}{
		{"a database twice", []sbomtest.Entry{
			sbomtest.File(status, []byte(dpkgEntry("bash", "5.1-6"))),
			sbomtest.File(status, []byte(dpkgEntry("bash", "5.2.15-2+b2"))),
		}, "bash@5.2.15-2+b2(L0)"},
		{"a database, then a symlink", []sbomtest.Entry{
			sbomtest.File(status, []byte(dpkgEntry("bash", "5.1-6"))),
			sbomtest.Symlink(status, "/dev/null"),
		}, ""},
		{"a database, then a directory", []sbomtest.Entry{
			sbomtest.File(status, []byte(dpkgEntry("bash", "5.1-6"))),
			sbomtest.Dir(status),
		}, ""},
		{"a database, then a file too small to be a candidate", []sbomtest.Entry{
			sbomtest.File("opt/py/six-1.16.0.dist-info/METADATA", pyMetadata("six", "1.16.0")),
			sbomtest.File("opt/py/six-1.16.0.dist-info/METADATA", nil),
		}, ""},
		{"a directory of packages, then a file", []sbomtest.Entry{
			sbomtest.File("opt/py/six-1.16.0.dist-info/METADATA", pyMetadata("six", "1.16.0")),
			sbomtest.File("opt/py", []byte("now a file")),
		}, ""},
		{"a database, then its whiteout", []sbomtest.Entry{
			sbomtest.File(status, []byte(dpkgEntry("bash", "5.1-6"))),
			sbomtest.Whiteout(status),
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := sbomtest.NewLayer(tt.entries...)
			got, err := sbom.Inventory(context.Background(), []sbom.Layer{l})
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Join(names(got), " "); n != tt.want {
				t.Errorf("from the tar: %q, want %q", n, tt.want)
			}
			dir := t.TempDir()
			if _, err := archive.Apply(context.Background(), dir, bytes.NewReader(l.Tar), archive.Options{}); err != nil {
				t.Fatal(err)
			}
			got, err = sbom.Inventory(context.Background(), []sbom.Layer{&sbomtest.DirLayer{Layer: l, Path: dir}})
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Join(names(got), " "); n != tt.want {
				t.Errorf("from the unpacked layer: %q, want %q", n, tt.want)
			}
			if fi, err := os.Lstat(dir + "/" + status); tt.want == "" && strings.Contains(tt.name, "database,") && err == nil && fi.Mode().IsRegular() {
				t.Errorf("the database is still a file once unpacked")
			}
		})
	}
}
