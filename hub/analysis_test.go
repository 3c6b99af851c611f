package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/seed"
	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/osv"
)

func dpkgStatus(pkgs ...string) []byte {
	var b strings.Builder
	for _, p := range pkgs {
		name, version, _ := strings.Cut(p, "=")
		source := ""
		if name == "libssl3" {
			source = "Source: openssl\n"
		}
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nVersion: %s\n%s\n", name, version, source)
	}
	return []byte(b.String())
}

// debianImage is three layers: a Debian 12 dpkg database, an npm package,
// and the dpkg database with a package more.
func debianImage(t *testing.T) seed.Image {
	t.Helper()
	base := []string{"bash=5.2.15-2+b2", "curl=7.88.1-10", "libssl3=3.0.11-1~deb12u2"}
	im, err := seed.Build([]seed.Layer{
		{CreatedBy: "ADD rootfs.tar /", Files: []seed.File{
			{Name: "etc/os-release", Data: []byte("ID=debian\nVERSION_ID=\"12\"\n")},
			{Name: "var/lib/dpkg/status", Data: dpkgStatus(base...)},
		}},
		{CreatedBy: "COPY app /app", Files: []seed.File{
			{Name: "app/node_modules/lodash/package.json", Data: []byte(`{"name":"lodash","version":"4.17.20"}`)},
		}},
		{CreatedBy: "RUN apt-get install newpkg", Files: []seed.File{
			{Name: "var/lib/dpkg/status", Data: dpkgStatus(append(base, "newpkg=1.0-1")...)},
		}},
	}, seed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func fixedIn(id, eco, name, fixed string, sev string) osv.Advisory {
	a := osv.Advisory{ID: id, Modified: "2024-01-01T00:00:00Z", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: eco, Name: name},
		Ranges:  []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: fixed}}}},
	}}}
	if sev != "" {
		a.DatabaseSpecific = json.RawMessage(`{"severity":"` + sev + `"}`)
	}
	return a
}

// importOSV fills the OSV database at path.
func importOSV(t *testing.T, path string, advs ...osv.Advisory) {
	t.Helper()
	dir := t.TempDir()
	for _, a := range advs {
		b, _ := json.Marshal(a)
		if err := os.WriteFile(filepath.Join(dir, a.ID+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := vuln.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Import(context.Background(), vuln.ImportOptions{}, dir); err != nil {
		t.Fatal(err)
	}
}

func advisories() []osv.Advisory {
	return []osv.Advisory{
		fixedIn("DSA-1", "Debian:12", "curl", "7.88.1-10+deb12u5", "high"),
		fixedIn("DSA-2", "Debian:12", "openssl", "3.0.13-1~deb12u1", "critical"), // libssl3's source
		fixedIn("DSA-3", "Debian:12", "bash", "5.2.15-2", ""),                    // fixed before the installed +b2
		fixedIn("DSA-4", "Debian:12", "newpkg", "1.0-2", ""),
		fixedIn("GHSA-1", "npm", "lodash", "4.17.21", "medium"),
	}
}

// pushHTTP pushes an image as a client does: each blob in one POST, then
// the manifest under its tag.
func pushHTTP(t *testing.T, h *hubtest.Hub, token, repo, tag string, im seed.Image) {
	t.Helper()
	do := func(method, path, ctype string, body []byte) {
		req, _ := http.NewRequest(method, h.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s: %s", method, path, resp.Status)
		}
	}
	for _, b := range im.Blobs() {
		do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+b.Digest.String(), "application/octet-stream", b.Data)
	}
	do(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, im.MediaType, im.Manifest)
}

type sbomAnswer struct {
	Name, Repository, Tag, Digest, Platform, Status, Error string
	Distro                                                 struct{ ID, VersionID string }
	Packages                                               []struct {
		Name, Version, Type string
		Layer               struct{ Index int }
	}
}

type vulnAnswer struct {
	Digest, Status, Database, Message string
	Total, Packages                   int
	Counts                            map[string]int
	Findings                          []struct {
		ID, Severity, Installed string
		Package                 struct{ Name string }
	}
}

// getAPI GETs an API path as user (anonymous when ""), decoding into v.
func getAPI(t *testing.T, h *hubtest.Hub, user, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.URL+path, nil)
	if user != "" {
		req.SetBasicAuth(user, user+"-pw")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode
}

// analysed waits until the tag's analysis is no longer pending.
func analysed(t *testing.T, h *hubtest.Hub, user, path string) sbomAnswer {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var a sbomAnswer
		if code := getAPI(t, h, user, path, &a); code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, code)
		}
		if a.Status != "pending" {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: still pending after a minute", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func packageList(a sbomAnswer) []string {
	var out []string
	for _, p := range a.Packages {
		out = append(out, fmt.Sprintf("%s@%s/%s/%d", p.Name, p.Version, p.Type, p.Layer.Index))
	}
	slices.Sort(out)
	return out
}

func TestPushedImagesAreAnalysed(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true})
	importOSV(t, filepath.Join(h.Root, "vuln", "osv.db"), advisories()...)
	h.AddUser(t, "alice", "alice-pw")
	h.AddUser(t, "bob", "bob-pw")
	im := debianImage(t)
	pushHTTP(t, h, h.Token(t, "alice", "alice-pw", "repository:alice/deb:pull,push"), "alice/deb", "1", im)

	// The push alone starts the analysis: nobody has asked for it yet.
	waitAnalysis(t, h.Hub, im.Digest)
	const base = "/api/v1/repositories/alice/deb/tags/1"
	a := analysed(t, h, "", base+"/sbom")
	want := []string{"bash@5.2.15-2+b2/deb/0", "curl@7.88.1-10/deb/0", "libssl3@3.0.11-1~deb12u2/deb/0", "lodash@4.17.20/npm/1", "newpkg@1.0-1/deb/2"}
	if a.Status != "done" || a.Digest != im.Digest.String() || a.Repository != "alice/deb" || a.Tag != "1" ||
		a.Distro.ID != "debian" || a.Distro.VersionID != "12" || !slices.Equal(packageList(a), want) {
		t.Errorf("sbom: %+v\npackages %v", a, packageList(a))
	}

	var v vulnAnswer
	if code := getAPI(t, h, "", base+"/vulnerabilities", &v); code != http.StatusOK {
		t.Fatalf("vulnerabilities: %d", code)
	}
	var found []string
	for _, f := range v.Findings {
		found = append(found, f.ID+" "+f.Severity+" "+f.Package.Name+" "+f.Installed)
	}
	slices.Sort(found)
	wantFound := []string{"DSA-1 HIGH curl 7.88.1-10", "DSA-2 CRITICAL libssl3 3.0.11-1~deb12u2", "DSA-4 UNKNOWN newpkg 1.0-1", "GHSA-1 MEDIUM lodash 4.17.20"}
	wantCounts := map[string]int{"critical": 1, "high": 1, "medium": 1, "low": 0, "unknown": 1}
	if v.Status != "done" || v.Database != "osv" || v.Total != 4 || v.Packages != 4 || !slices.Equal(found, wantFound) || fmt.Sprint(v.Counts) != fmt.Sprint(wantCounts) {
		t.Errorf("vulnerabilities: %+v\nfindings %v", v, found)
	}

	// The same rule as pulling: a private repository is its owner's only.
	h.SetRepo(t, "alice/deb", hubtest.Repo{Private: hubtest.Ptr(true)})
	for _, tt := range []struct {
		user, path string
		code       int
	}{
		{"", base + "/sbom", http.StatusNotFound},
		{"", base + "/vulnerabilities", http.StatusNotFound},
		{"bob", base + "/sbom", http.StatusNotFound},
		{"alice", base + "/sbom", http.StatusOK},
		{"alice", base + "/vulnerabilities", http.StatusOK},
		{"alice", "/api/v1/repositories/alice/deb/tags/2/sbom", http.StatusNotFound},
		{"alice", base + "/licenses", http.StatusNotFound},
	} {
		if code := getAPI(t, h, tt.user, tt.path, nil); code != tt.code {
			t.Errorf("GET %s as %q: %d, want %d", tt.path, tt.user, code, tt.code)
		}
	}

	// The seeded welcome image is analysed too.
	w := analysed(t, h, "", "/api/v1/repositories/welcome/tags/latest/sbom")
	if w.Status != "done" || w.Name != "welcome" || w.Repository != "library/welcome" {
		t.Errorf("welcome: %+v", w)
	}
	if _, err := os.Stat("/bin/busybox"); err == nil && !slices.ContainsFunc(w.Packages, func(p struct {
		Name, Version, Type string
		Layer               struct{ Index int }
	}) bool {
		return p.Name == "busybox"
	}) {
		t.Errorf("welcome has busybox but its inventory does not: %v", packageList(w))
	}
}

func TestAnalysisWithoutDatabaseThenWithOne(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	h.PushImage(t, "team/deb:1", debianImage(t))
	const base = "/api/v1/repositories/team/deb/tags/1"
	if a := analysed(t, h, "", base+"/sbom"); a.Status != "done" || len(a.Packages) != 5 {
		t.Fatalf("sbom: %+v", a)
	}
	var v vulnAnswer
	getAPI(t, h, "", base+"/vulnerabilities", &v)
	if v.Status != "done" || v.Database != "none" || v.Message != "no database" || v.Total != 0 || len(v.Counts) != 5 {
		t.Errorf("without a database: %+v", v)
	}
	// A database put in place later applies at once, from the stored inventory.
	importOSV(t, filepath.Join(h.Root, "vuln", "osv.db"), advisories()...)
	v = vulnAnswer{}
	getAPI(t, h, "", base+"/vulnerabilities", &v)
	if v.Status != "done" || v.Database != "osv" || v.Total != 4 || v.Counts["critical"] != 1 {
		t.Errorf("with a database: %+v", v)
	}
}

func TestIndexTagsAnalysePerPlatform(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	deb := debianImage(t)
	other := hubtest.RandomImage(t, 1, 64)
	h.PushImage(t, "team/multi:arm", other)
	h.PushImage(t, "team/multi:amd", deb)
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"arm64"}},`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}}]}`,
		other.MediaType, other.Digest, len(other.Manifest), deb.MediaType, deb.Digest, len(deb.Manifest))
	d := digest.FromString(idx)
	if _, err := h.Hub.PutManifest(context.Background(), "team/multi", d, "application/vnd.oci.image.index.v1+json", []byte(idx), "latest"); err != nil {
		t.Fatal(err)
	}
	a := analysed(t, h, "", "/api/v1/repositories/team/multi/tags/latest/sbom")
	if a.Digest != deb.Digest.String() || a.Platform != "linux/amd64" || len(a.Packages) != 5 {
		t.Errorf("default platform: %+v", a)
	}
	a = analysed(t, h, "", "/api/v1/repositories/team/multi/tags/latest/sbom?platform=linux/arm64")
	if a.Digest != other.Digest.String() || a.Platform != "linux/arm64" || a.Status != "done" || len(a.Packages) != 0 {
		t.Errorf("arm64: %+v", a)
	}
	if code := getAPI(t, h, "", "/api/v1/repositories/team/multi/tags/latest/sbom?platform=linux/s390x", nil); code != http.StatusNotFound {
		t.Errorf("a platform the index lacks: %d", code)
	}
}

// A hub stopped before it analysed what was pushed takes it up again when
// it starts.
func TestAnalysisResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hub.New(ctx, hub.Config{Root: root, Open: true, GCInterval: -1, AnalysisWorkers: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	im := debianImage(t)
	if err := h.PutImage(ctx, "team/deb", im, "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Meta().Analysis(ctx, im.Digest); err == nil {
		t.Fatal("analysed with analysis off")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/repositories/team/deb/tags/1/sbom", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"disabled"`) {
		t.Errorf("with analysis off: %d %s", rec.Code, rec.Body)
	}
	h.Close()

	h, err = hub.New(ctx, hub.Config{Root: root, Open: true, GCInterval: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if a := waitAnalysis(t, h, im.Digest); a.Status != "done" || !strings.Contains(string(a.Inventory), `"newpkg"`) {
		t.Errorf("analysis after restart: %s %s", a.Status, a.Error)
	}
}

// waitAnalysis waits for the hub to record an analysis of d.
func waitAnalysis(t *testing.T, h *hub.Hub, d digest.Digest) meta.Analysis {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		a, err := h.Meta().Analysis(context.Background(), d)
		if err == nil {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not analysed after a minute: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
