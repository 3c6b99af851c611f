package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/osv"
)

func status(pkgs ...string) string {
	var b strings.Builder
	for _, p := range pkgs {
		name, version, _ := strings.Cut(p, "=")
		b.WriteString("Package: " + name + "\nStatus: install ok installed\nVersion: " + version + "\n\n")
	}
	return b.String()
}

// debianImage loads "deb:1" of three layers: a dpkg database, a layer that
// deletes a library, and one that adds a package to the database.
func debianImage(t *testing.T, e *Engine) {
	t.Helper()
	l1 := testimage.Tar(
		testimage.File{Name: "etc/"}, testimage.File{Name: "etc/os-release", Body: "ID=debian\nVERSION_ID=\"12\"\n"},
		testimage.File{Name: "var/"}, testimage.File{Name: "var/lib/"}, testimage.File{Name: "var/lib/dpkg/"},
		testimage.File{Name: "var/lib/dpkg/status", Body: status("bash=5.2.15-2+b2", "zlib1g=1:1.2.13.dfsg-1")},
		testimage.File{Name: "app/"}, testimage.File{Name: "app/node_modules/"}, testimage.File{Name: "app/node_modules/lodash/"},
		testimage.File{Name: "app/node_modules/lodash/package.json", Body: `{"name":"lodash","version":"4.17.20"}`},
	)
	l2 := testimage.Tar(testimage.File{Name: "app/"}, testimage.File{Name: "app/node_modules/"}, testimage.File{Name: "app/node_modules/.wh.lodash"})
	l3 := testimage.Tar(
		testimage.File{Name: "var/"}, testimage.File{Name: "var/lib/"}, testimage.File{Name: "var/lib/dpkg/"},
		testimage.File{Name: "var/lib/dpkg/status", Body: status("bash=5.2.15-2+b2", "zlib1g=1:1.2.13.dfsg-1", "curl=7.88.1-10")},
	)
	load(t, e, testimage.DockerArchive(testimage.ArchiveImage{
		Config: testimage.Config([]string{"sh"}, l1, l2, l3), Layers: [][]byte{testimage.Gzip(l1), l2, l3}, Tags: []string{"deb:1"},
	}))
}

func TestInventory(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	debianImage(t, e)
	var calls, last int
	inv, err := e.Inventory(ctx, "deb:1", func(done, total int) { calls, last = calls+1, done*10+total })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range inv.SBOM.Packages {
		got = append(got, p.Name+"@"+p.Version+"/"+string(p.Type)+"/"+string(rune('1'+p.Layer.Index)))
	}
	if strings.Join(got, " ") != "bash@5.2.15-2+b2/deb/1 curl@7.88.1-10/deb/3 zlib1g@1:1.2.13.dfsg-1/deb/1" {
		t.Errorf("packages: %v", got)
	}
	if inv.SBOM.Distro == nil || inv.SBOM.Distro.ID != "debian" || len(inv.SBOM.Layers) != 3 {
		t.Errorf("distro %+v, layers %v", inv.SBOM.Distro, inv.SBOM.Layers)
	}
	if calls != 3 || last != 33 {
		t.Errorf("progress: %d calls, last %d", calls, last)
	}
	id, _ := e.Resolve(ctx, "deb:1")
	if inv.ID != id.ID || inv.Name != "deb:1" {
		t.Errorf("inventory of %s (%s), want %s", inv.ID, inv.Name, id.ID)
	}

	// A layer directory lost from the store is read from its blob instead.
	// Only a layer that came compressed keeps a blob beside its files (the
	// store writes a layer once), so it is the lowest one, l1, that goes;
	// overlay lists the lowest directory last.
	img, _ := e.InspectImage(ctx, "deb:1")
	lower := strings.Split(img.GraphDriver.Data["LowerDir"], ":")
	if err := os.Remove(filepath.Join(filepath.Dir(lower[len(lower)-1]), "layer.json")); err != nil {
		t.Fatal(err)
	}
	inv2, err := e.Inventory(ctx, "deb:1", nil)
	if err != nil || len(inv2.SBOM.Packages) != 3 {
		t.Errorf("inventory from the blob: %v, %+v", err, inv2)
	}

	if _, err := e.Inventory(ctx, "nope", nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing image: %v", err)
	}
}

func TestVulnerabilities(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	debianImage(t, e)
	path := e.VulnDBPath()
	if _, err := e.Vulnerabilities(ctx, "deb:1", nil); !errors.Is(err, ErrNoVulnDB) || !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("without a database: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("asking created the database: %v", err)
	}
	db, err := vuln.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := e.Vulnerabilities(ctx, "deb:1", nil); !errors.Is(err, ErrNoVulnDB) {
		t.Fatalf("with an empty database: %v", err)
	}

	dir := t.TempDir()
	for _, a := range []osv.Advisory{
		{ID: "DSA-1", Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "Debian:12", Name: "curl"},
			Ranges: []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: "7.88.1-10+deb12u5"}}}}}}},
		{ID: "DSA-2", Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "Debian:12", Name: "zlib1g"},
			Ranges: []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: "1.2.13.dfsg-2"}}}}}}}, // no epoch: lower
		{ID: "GHSA-1", Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "npm", Name: "lodash"},
			Ranges: []osv.Range{{Type: "SEMVER", Events: []osv.Event{{Introduced: "0"}, {Fixed: "4.17.21"}}}}}}}, // deleted by layer 2
	} {
		b, _ := json.Marshal(a)
		os.WriteFile(filepath.Join(dir, a.ID+".json"), b, 0o644)
	}
	if db, err = vuln.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import(ctx, vuln.ImportOptions{}, dir); err != nil {
		t.Fatal(err)
	}
	db.Close()
	res, err := e.Vulnerabilities(ctx, "deb:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].ID != "DSA-1" || res.Findings[0].Package.Layer.Index != 2 {
		t.Errorf("findings %+v", res.Findings)
	}
	if res.DB == nil || res.DB.Advisories != 3 || res.DB.Path != path || len(res.SBOM.Packages) != 3 {
		t.Errorf("database %+v", res.DB)
	}
}
