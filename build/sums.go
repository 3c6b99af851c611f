package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// fileSums remembers each file's content digest by its stat (size, mtime,
// ctime, inode), as git's index and BuildKit's contenthash do, so that a
// build does not read an unchanged context again to key its COPY steps.
// A file changed in the last seconds is not remembered: a change within
// the filesystem's timestamp granularity would not show in its stat.
type fileSums struct {
	path  string
	mu    sync.Mutex
	m     map[string]fileSum
	dirty bool
}

type fileSum struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
	Ino   uint64 `json:"ino"`
	Sum   string `json:"sum"`
}

// racyWindow is how recent a change may be for a file not to be
// remembered.
const racyWindow = 2 * time.Second

// loadSums reads the record kept for the context at root under dir.
func loadSums(dir, root string) *fileSums {
	h := sha256.Sum256([]byte(root))
	s := &fileSums{path: filepath.Join(dir, "context", hex.EncodeToString(h[:])+".json"), m: map[string]fileSum{}}
	if raw, err := os.ReadFile(s.path); err == nil {
		_ = json.Unmarshal(raw, &s.m) // a torn record is an empty one
	}
	return s
}

// sum is the digest of a regular file's content.
func (s *fileSums) sum(e entry) (string, error) {
	st, _ := e.Sys().(*syscall.Stat_t)
	var key fileSum
	if st != nil {
		key = fileSum{Size: e.Size(), Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Ino: st.Ino}
		if s != nil {
			s.mu.Lock()
			got, ok := s.m[e.host]
			s.mu.Unlock()
			if ok && got.Size == key.Size && got.Mtime == key.Mtime && got.Ctime == key.Ctime && got.Ino == key.Ino {
				return got.Sum, nil
			}
		}
	}
	f, err := os.Open(e.host)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	key.Sum = hex.EncodeToString(h.Sum(nil))
	if s != nil && st != nil && time.Since(time.Unix(0, max(key.Mtime, key.Ctime))) > racyWindow {
		s.mu.Lock()
		s.m[e.host], s.dirty = key, true
		s.mu.Unlock()
	}
	return key.Sum, nil
}

// save writes the record back, whole or not at all.
func (s *fileSums) save() error {
	if s == nil || !s.dirty {
		return nil
	}
	raw, err := json.Marshal(s.m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d", s.path, os.Getpid())
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}
