package blobs_test

import (
	"testing"

	"github.com/berth-dev/berth/hub/blobs"
	"github.com/berth-dev/berth/hub/blobs/blobstest"
)

func TestFS(t *testing.T) {
	blobstest.Run(t, func(t *testing.T) (blobs.Store, func() blobs.Store) {
		dir := t.TempDir()
		s, err := blobs.NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s, func() blobs.Store {
			s2, err := blobs.NewFS(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s2
		}
	})
}
