package meta_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/meta/metatest"
)

func TestSQLite(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := meta.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
