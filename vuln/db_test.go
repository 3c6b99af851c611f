package vuln_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/vuln"
	"github.com/berth-dev/berth/vuln/osv"
)

func zipOf(t *testing.T, advs ...osv.Advisory) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, a := range advs {
		w, err := zw.Create(a.ID + ".json")
		if err != nil {
			t.Fatal(err)
		}
		json.NewEncoder(w).Encode(a)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func count(t *testing.T, db *vuln.DB) map[string]int {
	t.Helper()
	info, err := db.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.Sources
}

func TestImportFilesZipsAndDirs(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	dir := writeAdvisories(t, adv("A-1", "npm", "a", intro("0")), adv("A-2", "npm", "b", intro("0")))
	zipPath := filepath.Join(t.TempDir(), "all.zip")
	os.WriteFile(zipPath, zipOf(t, adv("Z-1", "PyPI", "z", intro("0")), adv("Z-2", "PyPI", "y", intro("0"))), 0o644)
	arrayPath := filepath.Join(t.TempDir(), "list.json")
	b, _ := json.Marshal([]osv.Advisory{adv("L-1", "Go", "x", intro("0"))})
	os.WriteFile(arrayPath, b, 0o644)

	st, err := db.Import(ctx, vuln.ImportOptions{}, dir, zipPath, arrayPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Advisories != 5 || st.Files != 4 {
		t.Errorf("stats %+v, want 5 advisories from 4 files", st)
	}
	if n := count(t, db)["import"]; n != 5 {
		t.Errorf("%d advisories stored", n)
	}
	// importing again replaces rather than duplicates
	if _, err := db.Import(ctx, vuln.ImportOptions{}, dir); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db)["import"]; n != 5 {
		t.Errorf("%d advisories after re-import", n)
	}
}

// A failed import names the bad file and leaves the database as it was.
func TestImportIsAtomic(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, adv("OLD-1", "npm", "a", intro("0")))
	dir := writeAdvisories(t, adv("NEW-1", "npm", "b", intro("0")), adv("NEW-2", "npm", "c", intro("0")))
	bad := filepath.Join(dir, "zz-broken.json")
	os.WriteFile(bad, []byte(`{"id": "BROKEN", "affected": [`), 0o644)
	_, err := db.Import(ctx, vuln.ImportOptions{}, dir)
	if err == nil || !strings.Contains(err.Error(), "zz-broken.json") || !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("error %v does not name the broken file as invalid", err)
	}
	if c := count(t, db); c["import"] != 1 {
		t.Errorf("database changed by a failed import: %v", c)
	}
	noID := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(noID, []byte(`{"summary": "no id"}`), 0o644)
	if _, err := db.Import(ctx, vuln.ImportOptions{}, noID); err == nil || !strings.Contains(err.Error(), "no id") {
		t.Errorf("record without id: %v", err)
	}
	if _, err := db.Import(ctx, vuln.ImportOptions{}, filepath.Join(t.TempDir(), "notes.txt")); err == nil {
		t.Error("missing file accepted")
	}
}

// A withdrawn version of an advisory removes the one stored before.
func TestImportWithdrawnRemoves(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, adv("W-1", "npm", "a", intro("0")))
	w := adv("W-1", "npm", "a", intro("0"))
	w.Withdrawn = "2024-05-01T00:00:00Z"
	st, err := db.Import(ctx, vuln.ImportOptions{}, writeAdvisories(t, w))
	if err != nil {
		t.Fatal(err)
	}
	if st.Withdrawn != 1 || count(t, db)["import"] != 0 {
		t.Errorf("withdrawn advisory kept: %+v %v", st, count(t, db))
	}
}

type mirror struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (m *mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	b, ok := m.files[r.URL.Path]
	m.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func TestUpdateFromMirror(t *testing.T) {
	ctx := context.Background()
	m := &mirror{files: map[string][]byte{
		"/Debian/all.zip":      zipOf(t, adv("DSA-1", "Debian:12", "openssl", intro("0"), fixed("3.0.13-1")), adv("DSA-2", "Debian:12", "curl", intro("0"))),
		"/Go/all.zip":          zipOf(t, adv("GO-1", "Go", "golang.org/x/net", intro("0"), fixed("0.17.0"))),
		"/Rocky Linux/all.zip": zipOf(t, adv("RLSA-1", "Rocky Linux:9", "glibc", intro("0"))),
	}}
	srv := httptest.NewServer(m)
	defer srv.Close()
	db := openDB(t, adv("LOCAL-1", "npm", "a", intro("0")))

	var progressed bool
	st, err := db.Update(ctx, vuln.UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Debian", "Go", "Rocky Linux"},
		Progress: func(p vuln.Progress) { progressed = progressed || (p.Phase == "download" && p.Done > 0) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Advisories != 4 || !progressed {
		t.Errorf("stats %+v, progress reported %v", st, progressed)
	}
	c := count(t, db)
	if c["osv:Debian"] != 2 || c["osv:Go"] != 1 || c["osv:Rocky Linux"] != 1 || c["import"] != 1 {
		t.Errorf("sources after update: %v", c)
	}

	// the mirror drops DSA-2: the next update drops it too, keeping the local import
	m.mu.Lock()
	m.files["/Debian/all.zip"] = zipOf(t, adv("DSA-1", "Debian:12", "openssl", intro("0"), fixed("3.0.13-1")))
	m.mu.Unlock()
	if _, err := db.Update(ctx, vuln.UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Debian"}}); err != nil {
		t.Fatal(err)
	}
	if c := count(t, db); c["osv:Debian"] != 1 || c["osv:Go"] != 1 || c["import"] != 1 {
		t.Errorf("sources after second update: %v", c)
	}

	// a missing ecosystem fails the whole update and changes nothing
	before := count(t, db)
	m.mu.Lock()
	m.files["/Go/all.zip"] = zipOf(t)
	m.mu.Unlock()
	_, err = db.Update(ctx, vuln.UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go", "Hackage"}})
	if err == nil || !strings.Contains(err.Error(), "Hackage") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("update with a missing ecosystem: %v", err)
	}
	if after := count(t, db); after["osv:Go"] != before["osv:Go"] {
		t.Errorf("failed update changed the database: %v → %v", before, after)
	}

	// a download that is not a zip is refused the same way
	m.mu.Lock()
	m.files["/npm/all.zip"] = []byte("<html>captive portal</html>")
	m.mu.Unlock()
	if _, err := db.Update(ctx, vuln.UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"npm"}}); err == nil || !strings.Contains(err.Error(), "not a zip") {
		t.Errorf("non-zip download: %v", err)
	}
}

// Two processes' worth of handles on one file: readers see a consistent
// database while another handle imports.
func TestConcurrentHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "osv.db")
	a, err := vuln.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := vuln.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := a
			if i%2 == 1 {
				db = b
			}
			if _, err := db.Import(ctx, vuln.ImportOptions{}, writeAdvisories(t, adv("C-"+string(rune('A'+i)), "npm", "x", intro("0")))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := count(t, b)["import"]; n != 4 {
		t.Errorf("%d advisories after concurrent imports", n)
	}
}
