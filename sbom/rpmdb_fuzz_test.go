package sbom

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRpmDB feeds arbitrary bytes as an rpm database file (BerkeleyDB,
// NDB or SQLite, told by the first bytes, as parseRpmDB does): the page
// readers come from go-rpmdb and run on what an image holds. Whatever the
// bytes, they give blobs or an error, never a panic or a hang.
func FuzzRpmDB(f *testing.F) {
	// The heads of go-rpmdb's real databases, when its module is at hand:
	// the metadata pages the readers start from.
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output(); err == nil {
		dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
		for _, p := range []string{"centos5-plain/Packages", "sle15-bci/Packages.db", "fedora35/rpmdb.sqlite"} {
			if b, err := os.ReadFile(filepath.Join(dir, p)); err == nil {
				f.Add(b[:min(len(b), 16<<10)])
			}
		}
	}
	f.Add([]byte("SQLite format 3\x00"))
	f.Add([]byte("RpmP\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 16 {
			return
		}
		p := filepath.Join(t.TempDir(), "Packages")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		blobs, err := rpmBlobs(p, data[:16])
		if err != nil {
			return
		}
		for _, b := range blobs {
			_, _ = parseRpmHeader(b)
		}
	})
}
