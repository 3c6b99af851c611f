package sbom_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
)

// An image made from this machine's own dpkg database lists exactly what
// dpkg-query lists as installed for that database.
func TestDebianRootMatchesDpkgQuery(t *testing.T) {
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skipf("this machine has no dpkg database to build a Debian image from: %v", err)
	}
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("dpkg-query is not installed: it is the reference this test compares with")
	}
	osRelease, err := os.ReadFile("/usr/lib/os-release")
	if err != nil {
		t.Skipf("no /usr/lib/os-release: %v", err)
	}
	admin := t.TempDir()
	if err := os.WriteFile(filepath.Join(admin, "status"), status, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-query", "-W", "-f", `${db:Status-Abbrev}|${Package}|${Version}|${Architecture}\n`, "--admindir="+admin).Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		abbrev, rest, _ := strings.Cut(sc.Text(), "|")
		// "ii": installed; a held package ("hi") is installed as well
		if len(abbrev) >= 2 && abbrev[1] == 'i' {
			want = append(want, rest)
		}
	}
	if len(want) == 0 {
		t.Fatal("dpkg-query listed no installed package")
	}

	layers := []sbom.Layer{
		sbomtest.NewLayer(
			sbomtest.File("usr/lib/os-release", osRelease),
			sbomtest.Symlink("etc/os-release", "../usr/lib/os-release"),
			sbomtest.File("var/lib/dpkg/status", status),
		),
	}
	got, err := sbom.Inventory(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, p := range got.Packages {
		if p.Type != sbom.TypeDeb {
			t.Errorf("unexpected %s package %s", p.Type, p.Name)
			continue
		}
		have = append(have, p.Name+"|"+p.Version+"|"+p.Arch)
	}
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Errorf("inventory has %d packages, dpkg-query %d", len(have), len(want))
		for _, w := range want {
			if !slices.Contains(have, w) {
				t.Errorf("missing %s", w)
			}
		}
		for _, h := range have {
			if !slices.Contains(want, h) {
				t.Errorf("extra %s", h)
			}
		}
	}
	if got.Distro == nil || got.Distro.ID == "" || got.Distro.ID == "linux" {
		t.Errorf("distro not read through the /etc/os-release symlink: %+v", got.Distro)
	}
	t.Logf("%d packages, distro %+v", len(have), got.Distro)
}

// berth's own binary inside an image is found with exactly the modules and
// versions `go version -m` prints for it, and its Go version.
func TestGoBinaryMatchesGoVersionM(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is needed to build berth and run `go version -m`")
	}
	bin := filepath.Join(t.TempDir(), "berth")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/berth-dev/berth/cmd/berth")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(goTool, "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	want := parseGoVersionM(t, string(out))
	body, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	layers := []sbom.Layer{
		sbomtest.NewLayer(sbomtest.Exec("usr/local/bin/berth", body)),
	}
	got, err := sbom.Inventory(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, p := range got.Packages {
		if p.Path != "/usr/local/bin/berth" || p.Type != sbom.TypeGo {
			t.Errorf("unexpected package %+v", p)
		}
		have = append(have, p.Name+" "+p.Version)
	}
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Errorf("inventory:\n%s\ngo version -m:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	if len(want) < 3 {
		t.Errorf("expected berth to have dependencies, go version -m printed:\n%s", out)
	}
}

// parseGoVersionM reads `go version -m` output: the Go version on the first
// line, then "mod", "dep" and "=>" (replacement) lines.
func parseGoVersionM(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	_, goVersion, ok := strings.Cut(lines[0], ": ")
	if !ok {
		t.Fatalf("unexpected first line %q", lines[0])
	}
	want := []string{"stdlib " + goVersion}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "mod", "dep":
			v := ""
			if len(f) > 2 {
				v = f[2]
			}
			want = append(want, f[1]+" "+v)
		case "=>":
			v := ""
			if len(f) > 2 {
				v = f[2]
			}
			want[len(want)-1] = f[1] + " " + v
		}
	}
	slices.Sort(want)
	return want
}

// Replacements stand in for what they replace, as `go version -m` shows them.
func TestGoPackagesReplacement(t *testing.T) {
	bi, err := debug.ParseBuildInfo("path\texample.com/cmd/x\nmod\texample.com\tv1.0.0\t\ndep\tgolang.org/x/text\tv0.3.0\th1:x=\n=>\tgithub.com/fork/text\tv0.3.8\th1:y=\ndep\texample.com/local\tv0.0.0\n=>\t../local\t\t\n")
	if err != nil {
		t.Fatal(err)
	}
	bi.GoVersion = "go1.22.4 X:boringcrypto" // debug/buildinfo sets it apart from the module lines
	got := sbom.GoPackages(bi)
	var s []string
	for _, p := range got {
		s = append(s, p.Name+"@"+p.Version)
	}
	want := "example.com@v1.0.0 github.com/fork/text@v0.3.8 ../local@ stdlib@go1.22.4"
	if strings.Join(s, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(s, " "), want)
	}

	// a GOPATH-mode build has no main module, only the main package's path
	gopath := &debug.BuildInfo{GoVersion: "go1.19.8", Path: "github.com/opencontainers/runc"}
	if got := sbom.GoPackages(gopath); len(got) != 2 || got[0].Name != "github.com/opencontainers/runc" || got[0].Version != "(devel)" {
		t.Errorf("GOPATH build: %+v", got)
	}
}
