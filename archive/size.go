package archive

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
)

// Size counts a layer directory as moby's pkg/directory.Size does on Linux, which is
// what Docker 20.10 on overlay2 reports for a layer: every non-directory entry with a
// size above 0, each inode once (so hardlinks once, symlinks by the length of their
// target, whiteout devices 0).
func Size(dir string) (int64, error) {
	seen := map[uint64]struct{}{}
	var size int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// As moby: an entry that vanished during the walk is not an error.
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		s := fi.Size()
		if s == 0 {
			return nil
		}
		ino := fi.Sys().(*syscall.Stat_t).Ino
		if _, ok := seen[ino]; ok {
			return nil
		}
		seen[ino] = struct{}{}
		size += s
		return nil
	})
	return size, err
}
