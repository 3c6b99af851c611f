package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A file's digest is kept by its stat and given back while the stat is
// the same; a change of content, even at the same size and mtime, changes
// the ctime and is read again. A file changed just now is not kept.
func TestFileSums(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	stat := func() entry {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return entry{FileInfo: fi, host: p}
	}
	s := loadSums(dir, "/ctx")
	if _, err := s.sum(stat()); err != nil || len(s.m) != 0 {
		t.Fatalf("a file changed just now was kept: %v %v", s.m, err)
	}
	time.Sleep(racyWindow + 100*time.Millisecond)
	first, err := s.sum(stat())
	if err != nil || len(s.m) != 1 {
		t.Fatalf("not kept: %v %v", s.m, err)
	}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	s = loadSums(dir, "/ctx")
	if got, _ := s.sum(stat()); got != first || len(s.m) != 1 {
		t.Fatalf("after a reload: %s, want %s", got, first)
	}
	fi := stat()
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.sum(stat()); got == first {
		t.Errorf("a changed file kept its old digest")
	}
}
