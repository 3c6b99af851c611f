package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// cpRoot opens the root of a running container's filesystem; every path
// cp takes is resolved under it with RESOLVE_IN_ROOT, so a symlink in the
// container (even one swapped in meanwhile, CVE-2018-15664) cannot lead
// out of it.
func (e *Engine) cpRoot(ctx context.Context, ref string) (*os.File, error) {
	_, c, err := e.runtimeContainer(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, errdefs.Newf(errdefs.ErrConflict, "container %s is not running: cp needs its root filesystem mounted", ref)
	}
	return os.Open(c.RootDir())
}

func openIn(root *os.File, p string, flags int) (*os.File, error) {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(int(root.Fd()), rel, &how)
		if err == nil {
			return os.NewFile(uintptr(fd), p), nil
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			return nil, &fs.PathError{Op: "open", Path: p, Err: err}
		}
	}
}

// containerPathIsDir tells whether p is a directory in the running
// container (cp's naming rules depend on it).
func (e *Engine) containerPathIsDir(ctx context.Context, ref, p string) (bool, error) {
	root, err := e.cpRoot(ctx, ref)
	if err != nil {
		return false, err
	}
	defer root.Close()
	f, err := openIn(root, p, unix.O_PATH)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	return err == nil && fi.IsDir(), err
}

// CopyFromContainer writes a tar of p in the running container to w, its
// entries named from p's base name, as `docker cp CONTAINER:p -`.
func (e *Engine) CopyFromContainer(ctx context.Context, ref, p string, w io.Writer) error {
	root, err := e.cpRoot(ctx, ref)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := openIn(root, p, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer f.Close()
	// What p resolved to, read through the fd's own path.
	host, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return err
	}
	return writeTree(w, host, path.Base(path.Clean("/"+p)))
}

// CopyPathToContainer copies the host path src into the running
// container as `docker cp SRC CONTAINER:DST` does: into DST when it is a
// directory there, else as DST itself.
func (e *Engine) CopyPathToContainer(ctx context.Context, ref, src, dst string) error {
	into, name := dst, filepath.Base(src)
	if isDir, err := e.containerPathIsDir(ctx, ref, dst); err != nil || !isDir {
		into, name = path.Dir(dst), path.Base(dst)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTree(pw, src, name)) }()
	err := e.CopyToContainer(ctx, ref, into, pr)
	pr.CloseWithError(err) // the writer stops if the copy in failed first
	return err
}

// writeTree writes a tar of the tree at host to w, its top entry named
// name: cp's stream, both ways.
func writeTree(w io.Writer, host, name string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(host, func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(host, hp)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return cpTarEntry(tw, hp, path.Join(name, filepath.ToSlash(rel)), fi)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func cpTarEntry(tw *tar.Writer, host, name string, fi fs.FileInfo) error {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(host); err != nil {
			return err
		}
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	h.Name = name
	if fi.IsDir() {
		h.Name += "/"
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	src, err := os.Open(host)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(tw, src)
	return err
}

// CopyToContainer unpacks a tar into directory dir of the running
// container, every name resolved inside its root.
func (e *Engine) CopyToContainer(ctx context.Context, ref, dir string, r io.Reader) error {
	root, err := e.cpRoot(ctx, ref)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := copyEntryIn(root, path.Join(dir, path.Clean("/"+h.Name)), h, tr); err != nil {
			return fmt.Errorf("copying %s into the container: %w", h.Name, err)
		}
	}
}

// copyEntryIn writes one tar entry at p: its parent is opened inside the
// root, the entry made relative to that directory, never followed.
func copyEntryIn(root *os.File, p string, h *tar.Header, r io.Reader) error {
	parent, err := openIn(root, path.Dir(p), unix.O_DIRECTORY|unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer parent.Close()
	pfd, name := int(parent.Fd()), path.Base(p)
	switch h.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, name, uint32(h.Mode&0o7777)); err != nil && err != unix.EEXIST {
			return err
		}
	case tar.TypeSymlink:
		_ = unix.Unlinkat(pfd, name, 0)
		if err := unix.Symlinkat(h.Linkname, pfd, name); err != nil {
			return err
		}
	case tar.TypeReg:
		_ = unix.Unlinkat(pfd, name, 0)
		fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(h.Mode&0o7777))
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), p)
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	default:
		return nil
	}
	return unix.Fchownat(pfd, name, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW)
}
