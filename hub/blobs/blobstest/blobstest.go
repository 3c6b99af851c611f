// Package blobstest is the test suite every blobs.Store driver runs, so the
// filesystem driver and an S3 driver behave the same to the hub.
package blobstest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/blobs"
)

// Run runs the suite. newStore returns an empty store; reopen, if not nil,
// returns a second store over the same backing storage, as a restarted
// process would see it.
func Run(t *testing.T, newStore func(t *testing.T) (s blobs.Store, reopen func() blobs.Store)) {
	t.Run("PutStatOpen", func(t *testing.T) { testPutStatOpen(t, newStore) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, newStore) })
	t.Run("PutMismatchStoresNothing", func(t *testing.T) { testPutMismatchStoresNothing(t, newStore) })
	t.Run("SHA512", func(t *testing.T) { testSHA512(t, newStore) })
	t.Run("EmptyBlob", func(t *testing.T) { testEmptyBlob(t, newStore) })
	t.Run("ChunkedUploadAcrossResume", func(t *testing.T) { testChunkedUploadAcrossResume(t, newStore) })
	t.Run("CommitMismatchRemovesUpload", func(t *testing.T) { testCommitMismatchRemovesUpload(t, newStore) })
	t.Run("CancelAndWalkUploads", func(t *testing.T) { testCancelAndWalkUploads(t, newStore) })
	t.Run("WalkAndDelete", func(t *testing.T) { testWalkAndDelete(t, newStore) })
	t.Run("ConcurrentSameBlob", func(t *testing.T) { testConcurrentSameBlob(t, newStore) })
	t.Run("InvalidDigest", func(t *testing.T) { testInvalidDigest(t, newStore) })
}

// opener is Run's newStore, as each subtest gets it.
type opener = func(t *testing.T) (s blobs.Store, reopen func() blobs.Store)

func testPutStatOpen(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	data := []byte("hello, berth")
	d := digest.FromBytes(data)
	info, err := s.Put(ctx, d, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != d || info.Size != int64(len(data)) {
		t.Fatalf("Put = %+v", info)
	}
	st, err := s.Stat(ctx, d)
	if err != nil || st.Size != int64(len(data)) || st.ModTime.IsZero() {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	assertContent(t, s, d, data)
}

func testMissing(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	d := digest.FromString("nothing")
	if _, err := s.Stat(ctx, d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Stat missing: %v", err)
	}
	if _, err := s.Open(ctx, d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Open missing: %v", err)
	}
	if err := s.Delete(ctx, d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Delete missing: %v", err)
	}
	if _, err := s.Resume(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Resume missing: %v", err)
	}
	if _, err := s.Resume(ctx, "../../etc"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Resume with a path: %v", err)
	}
}

func testPutMismatchStoresNothing(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	d := digest.FromString("expected")
	if _, err := s.Put(ctx, d, strings.NewReader("other")); !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("Put mismatch: %v", err)
	}
	if _, err := s.Stat(ctx, d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("blob visible after a mismatch: %v", err)
	}
	assertNoUploads(t, s)
}

func testSHA512(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	data := []byte("sha512 content")
	d := digest.SHA512.FromBytes(data)
	if _, err := s.Put(ctx, d, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	assertContent(t, s, d, data)
}

func testEmptyBlob(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	d := digest.FromBytes(nil)
	if _, err := s.Put(ctx, d, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	assertContent(t, s, d, nil)
}

func testChunkedUploadAcrossResume(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, reopen := newStore(t)
	data := bytes.Repeat([]byte("0123456789"), 10000)
	d := digest.FromBytes(data)
	u, err := s.NewUpload(ctx, "team/app")
	if err != nil {
		t.Fatal(err)
	}
	id := u.Info().ID
	if _, err := u.Append(ctx, bytes.NewReader(data[:30000])); err != nil {
		t.Fatal(err)
	}
	u.Close()
	if reopen != nil {
		s = reopen() // a restart between chunks
	}
	u, err = s.Resume(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Info(); got.Size != 30000 || got.Owner != "team/app" {
		t.Fatalf("resumed upload info = %+v", got)
	}
	if _, err := u.Append(ctx, bytes.NewReader(data[30000:])); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	u.Close()
	assertContent(t, s, d, data)
	if _, err := s.Resume(ctx, id); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("upload still there after commit: %v", err)
	}
}

func testCommitMismatchRemovesUpload(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	u, err := s.NewUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Append(ctx, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Commit(ctx, digest.FromString("abd")); !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("Commit mismatch: %v", err)
	}
	if _, err := s.Stat(ctx, digest.FromString("abd")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatal("blob stored after a mismatch")
	}
	assertNoUploads(t, s)
}

func testCancelAndWalkUploads(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	u, err := s.NewUpload(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, strings.NewReader("12345")); err != nil {
		t.Fatal(err)
	}
	u.Close()
	var seen []blobs.UploadInfo
	if err := s.WalkUploads(ctx, func(i blobs.UploadInfo) error { seen = append(seen, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].ID != u.Info().ID || seen[0].Size != 5 || seen[0].Owner != "r1" {
		t.Fatalf("WalkUploads = %+v", seen)
	}
	u, err = s.Resume(ctx, seen[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	u.Close()
	assertNoUploads(t, s)
}

func testWalkAndDelete(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	want := map[digest.Digest]int64{}
	for _, c := range []string{"a", "bb", "ccc"} {
		d := digest.FromString(c)
		if _, err := s.Put(ctx, d, strings.NewReader(c)); err != nil {
			t.Fatal(err)
		}
		want[d] = int64(len(c))
	}
	got := map[digest.Digest]int64{}
	if err := s.Walk(ctx, func(i blobs.Info) error { got[i.Digest] = i.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Walk = %v, want %v", got, want)
	}
	for d, n := range want {
		if got[d] != n {
			t.Fatalf("Walk %s size %d, want %d", d, got[d], n)
		}
	}
	d := digest.FromString("bb")
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Stat after Delete: %v", err)
	}
}

func testConcurrentSameBlob(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	data := bytes.Repeat([]byte("x"), 1<<16)
	d := digest.FromBytes(data)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Put(ctx, d, bytes.NewReader(data))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	assertContent(t, s, d, data)
}

func testInvalidDigest(t *testing.T, newStore opener) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, d := range []digest.Digest{"sha256:../../x", "md5:abc", ""} {
		if _, err := s.Stat(ctx, d); err == nil {
			t.Errorf("Stat(%q) succeeded", d)
		}
		if _, err := s.Put(ctx, d, strings.NewReader("")); err == nil {
			t.Errorf("Put(%q) succeeded", d)
		}
	}
}

func assertContent(t *testing.T, s blobs.Store, d digest.Digest, want []byte) {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("content of %s: got %d bytes, want %d", d, len(got), len(want))
	}
	if len(want) > 3 {
		if _, err := r.Seek(2, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(r, b); err != nil || b[0] != want[2] {
			t.Fatalf("seek and read: %q, %v", b, err)
		}
	}
}

func assertNoUploads(t *testing.T, s blobs.Store) {
	t.Helper()
	n := 0
	if err := s.WalkUploads(context.Background(), func(blobs.UploadInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d uploads left behind", n)
	}
}
