package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"syscall"

	"golang.org/x/sys/unix"
)

// Empty reports whether the volume's data directory holds nothing.
func Empty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// CopyUp copies the tree at src, the image's content where the volume is
// mounted, into the empty volume dst, as Docker fills a new volume. It
// never follows a symlink: links are copied as links. Owners, modes and
// modification times are kept; sockets and devices are skipped.
func CopyUp(src, dst string) error {
	root, err := os.Lstat(src)
	if err != nil || !root.IsDir() {
		return nil // nothing there, or not a directory: nothing to copy
	}
	if err := chown(dst, root); err != nil {
		return err
	}
	if err := os.Chmod(dst, root.Mode().Perm()|root.Mode()&(fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid)); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if err := os.Mkdir(target, fi.Mode().Perm()); err != nil {
				return fmt.Errorf("copy up %s: %w", rel, err)
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return fmt.Errorf("copy up %s: %w", rel, err)
			}
			return lchown(target, fi)
		case fi.Mode().IsRegular():
			if err := copyFile(path, target, fi); err != nil {
				return fmt.Errorf("copy up %s: %w", rel, err)
			}
		default:
			return nil
		}
		if err := chown(target, fi); err != nil {
			return err
		}
		if err := os.Chmod(target, fi.Mode().Perm()|fi.Mode()&(fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid)); err != nil {
			return err
		}
		return os.Chtimes(target, fi.ModTime(), fi.ModTime())
	})
}

func copyFile(src, dst string, fi fs.FileInfo) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func chown(path string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	return os.Chown(path, int(st.Uid), int(st.Gid))
}

func lchown(path string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	return os.Lchown(path, int(st.Uid), int(st.Gid))
}
