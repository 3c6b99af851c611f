package sbom

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// scanDir walks an unpacked overlayfs lower directory, reading candidate
// files in place.
func (s *scanner) scanDir(ctx context.Context, ls *layerScan, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if p == root {
				return err
			}
			ls.warn(p, err)
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		dir, base := splitPath(rel)
		if ls.whiteout(dir, base) {
			return nil
		}
		t := d.Type()
		if t.IsDir() {
			if isOpaque(p) {
				ls.opaques[rel] = struct{}{}
			}
			return nil
		}
		if t&fs.ModeCharDevice != 0 && isWhiteoutDevice(p) {
			ls.whiteouts[rel] = struct{}{}
			return nil
		}
		ls.nondirs[hashPath(rel)] = struct{}{}
		if !t.IsRegular() {
			return nil
		}
		k := classify(rel, 0)
		var info fs.FileInfo
		if k == kindNone {
			// only now is the mode worth a stat: is it an executable?
			if info, err = d.Info(); err != nil {
				return nil
			}
			if k = classify(rel, info.Mode()); k == kindNone || info.Size() < 64 {
				return nil
			}
		}
		c, err := openContent(p, rel, k)
		if err != nil {
			ls.warn("/"+rel, err)
			return nil
		}
		if c == nil {
			return nil
		}
		s.record(ctx, ls, rel, k, c)
		c.release()
		return nil
	})
}

// openContent opens a file of a DirLayer; nil, nil for a non-ELF executable.
func openContent(p, rel string, k kind) (*content, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &content{path: "/" + rel, size: st.Size(), file: f}
	if k == kindExec {
		head := make([]byte, len(elfMagic))
		if _, err := f.ReadAt(head, 0); err != nil || string(head) != string(elfMagic) {
			f.Close()
			return nil, nil
		}
	}
	return c, nil
}

func isOpaque(p string) bool {
	buf := make([]byte, 2)
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		n, err := unix.Lgetxattr(p, attr, buf)
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

func isWhiteoutDevice(p string) bool {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFCHR && st.Rdev == 0
}
