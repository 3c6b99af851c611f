package sbom_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
)

// rpmFixtures are real rpm databases shipped in go-rpmdb's module (its
// testdata), one per format.
func rpmFixtures(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		t.Skipf("cannot locate go-rpmdb's test databases in the module cache: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg")
	if _, err := os.Stat(filepath.Join(dir, "testdata")); err != nil {
		t.Skipf("go-rpmdb's module has no testdata: %v", err)
	}
	return dir
}

func rpmInventory(t *testing.T, file []byte, at string) []string {
	t.Helper()
	got, err := sbom.Inventory(context.Background(), []sbom.Layer{sbomtest.NewLayer(sbomtest.File(at, file))})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Warnings) > 0 {
		t.Fatalf("warnings: %v", got.Warnings)
	}
	var out []string
	for _, p := range got.Packages {
		v := p.Version
		if !strings.Contains(v, ":") {
			v = "0:" + v
		}
		out = append(out, p.Name+"|"+v+"|"+p.Arch)
	}
	slices.Sort(out)
	return out
}

// The SQLite and BerkeleyDB databases list what rpm itself lists for them.
func TestRpmDBMatchesRpmQuery(t *testing.T) {
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm is not installed (apt-get install rpm): it is the reference this test compares with")
	}
	dir := rpmFixtures(t)
	for _, tc := range []struct{ fixture, backend, at string }{
		{"fedora35/rpmdb.sqlite", "sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"},
		{"centos7-plain/Packages", "bdb_ro", "var/lib/rpm/Packages"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, "testdata", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			dbdir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dbdir, filepath.Base(tc.fixture)), body, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("rpm", "--dbpath", dbdir, "--define", "_db_backend "+tc.backend, "-qa",
				"--qf", `%{NAME}|%{EPOCHNUM}:%{VERSION}-%{RELEASE}|%{ARCH}\n`).Output()
			if err != nil {
				t.Fatalf("rpm -qa: %v", err)
			}
			var want []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if !strings.HasPrefix(l, "gpg-pubkey|") {
					want = append(want, l)
				}
			}
			slices.Sort(want)
			got := rpmInventory(t, body, tc.at)
			if !slices.Equal(got, want) {
				t.Errorf("got %d packages, rpm lists %d\ngot  %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
}

// Debian's rpm cannot read NDB, so the NDB database is checked against the
// package list go-rpmdb's own tests expect for it.
func TestRpmDBNDB(t *testing.T) {
	dir := rpmFixtures(t)
	body, err := os.ReadFile(filepath.Join(dir, "testdata/sle15-bci/Packages.db"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "rpmdb_testcase_test.go"))
	if err != nil {
		t.Skipf("go-rpmdb's expected lists are missing: %v", err)
	}
	_, list, ok := strings.Cut(string(src), "SLE15WithNDB = func")
	if !ok {
		t.Skip("go-rpmdb's expected list for the NDB fixture is not where it used to be")
	}
	list, _, _ = strings.Cut(list, "\n\t}\n")
	re := regexp.MustCompile(`\{intRef\((\d*)\), "([^"]+)", "([^"]+)", "([^"]+)", "([^"]+)"`)
	var want []string
	for _, m := range re.FindAllStringSubmatch(list, -1) {
		epoch := m[1]
		if epoch == "" {
			epoch = "0"
		}
		want = append(want, m[2]+"|"+epoch+":"+m[3]+"-"+m[4]+"|"+m[5])
	}
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatal("no expected packages parsed")
	}
	got := rpmInventory(t, body, "usr/lib/sysimage/rpm/Packages.db")
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
