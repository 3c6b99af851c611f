package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

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
//
// The volume may already be shared with a running container, which can
// rename and replace anything in it while we copy (CVE-2018-15664). So
// nothing in dst is ever named by a path: dst is opened once, each
// directory is made and opened relative to its parent's descriptor with
// O_NOFOLLOW (one name, no symlink: openat2's RESOLVE_IN_ROOT would add
// nothing to a one-component lookup), files are created with O_EXCL, and
// owners, modes and times are set through the descriptors (fchown, fchmod,
// futimens; fchownat with AT_SYMLINK_NOFOLLOW on a copied symlink). A
// directory swapped for a symlink makes the copy fail or land in the
// renamed directory, still inside the volume; never on the host.
func CopyUp(src, dst string) error {
	root, err := os.Lstat(src)
	if err != nil || !root.IsDir() {
		return nil // nothing there, or not a directory: nothing to copy
	}
	fd, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dst, Err: err}
	}
	defer unix.Close(fd)
	if err := copyDir(src, fd, "."); err != nil {
		return err
	}
	// The root's times are the volume's own, as before: only owner and mode.
	return setAttrs(fd, root, false)
}

// copyDir copies the entries of the directory src into the directory open
// as dfd, whose path in the volume is rel (for errors only).
func copyDir(src string, dfd int, rel string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyEntry(filepath.Join(src, e.Name()), dfd, e.Name(), filepath.Join(rel, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies path into the directory pfd as name.
func copyEntry(path string, pfd int, name, rel string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	switch {
	case fi.IsDir():
		// Made private; its mode is set once its entries are in.
		if err := unix.Mkdirat(pfd, name, 0o700); err != nil {
			return fmt.Errorf("copy up %s: %w", rel, err)
		}
		fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("copy up %s: %w", rel, err)
		}
		defer unix.Close(fd)
		if err := copyDir(path, fd, rel); err != nil {
			return err
		}
		// After the entries, so that the directory keeps the image's mtime.
		return setAttrs(fd, fi, true)
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(path)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(link, pfd, name); err != nil {
			return fmt.Errorf("copy up %s: %w", rel, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return unix.Fchownat(pfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
	case fi.Mode().IsRegular():
		if err := copyFile(path, pfd, name, fi); err != nil {
			return fmt.Errorf("copy up %s: %w", rel, err)
		}
	}
	return nil // sockets, devices, fifos: skipped
}

// copyFile creates name in pfd (O_EXCL: never through a planted symlink)
// and copies src into it.
func copyFile(src string, pfd int, name string, fi fs.FileInfo) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(fd), name)
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := setAttrs(fd, fi, true); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// setAttrs gives the file open as fd fi's owner and mode (set after the
// owner: chown clears setuid and setgid) and, if times, its modification
// time.
func setAttrs(fd int, fi fs.FileInfo, times bool) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	mode := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		mode |= unix.S_ISUID
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		mode |= unix.S_ISGID
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= unix.S_ISVTX
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	if !times {
		return nil
	}
	mt := unix.NsecToTimespec(fi.ModTime().UnixNano())
	return futimens(fd, &[2]unix.Timespec{mt, mt})
}

// futimens sets the times of the file fd refers to: utimensat(fd, NULL,
// ...), which x/sys does not wrap without a path.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
