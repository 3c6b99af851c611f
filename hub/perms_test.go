package hub_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/hub"
	"github.com/berth-dev/berth/internal/hubtest"
)

// TestDataIsPrivate: the database (password hashes), the blobs of private
// images, uploads and the signing key are for the hub's user alone: no
// directory under the root is open to others and no file readable by
// them, whatever the umask (issue 16, finding 7).
func TestDataIsPrivate(t *testing.T) {
	root := filepath.Join(t.TempDir(), "hub")
	h, err := hub.New(context.Background(), hub.Config{Root: root, Open: true, GCInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer func() { srv.Close(); h.Close() }()
	pushImage(t, srv.URL, "alice/app", "v1", hubtest.RandomImage(t, 2, 100))
	req(t, "POST", srv.URL+"/v2/alice/app/blobs/uploads/", "", nil) // an upload left open
	checked := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want nothing for group or others", p, fi.Mode().Perm())
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d paths under the root", checked)
	}
}
