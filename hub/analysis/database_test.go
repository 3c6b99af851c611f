package analysis

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/vuln"
)

// TestDatabaseBeingFilledIsPickedUp: a database opened before its import
// has written anything (as an import does) is not taken as empty for
// dbInfoTTL: once the advisories are in, the next analysis sees them.
func TestDatabaseBeingFilledIsPickedUp(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "osv.db")
	db, err := vuln.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := New(Config{DBPath: path, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, nil)
	defer a.Close()
	if got, _, err := a.database(ctx); got != nil || err != nil {
		t.Fatalf("empty database: %v, %v", got, err)
	}
	dir := t.TempDir()
	adv := `{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"lodash"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"4.17.21"}]}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "GHSA-1.json"), []byte(adv), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import(ctx, vuln.ImportOptions{}, dir); err != nil {
		t.Fatal(err)
	}
	got, info, err := a.database(ctx)
	if err != nil || got == nil || info == nil || info.Advisories != 1 {
		t.Fatalf("after the import: db %v, info %+v, err %v", got, info, err)
	}
}
