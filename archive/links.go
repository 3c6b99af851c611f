package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// Link is a hardlink to a file of a lower layer that Apply could not finish because
// the layers below were not known yet. It holds its placeholder open, so the inode it
// fills is the one Apply made even if names changed since.
type Link struct {
	Name   string // the link, a clean absolute path in the image
	Target string // the lower-layer file it names, as passed to Lower

	f     *os.File
	names []string // every name in the layer made for Target
	meta  meta
}

// Close releases the placeholder; FinishLinks closes the links it is given.
func (l *Link) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// FinishLinks fills the placeholders of pending links in the layer at dir with copies
// of their lower-layer files, found with lower (as Options.Lower), and returns how
// much the layer's Size grew. It closes every link.
func FinishLinks(ctx context.Context, dir string, pending []*Link, lower func(name string) (string, error)) (sizeDelta int64, err error) {
	defer func() {
		for _, l := range pending {
			l.Close()
		}
	}()
	if len(pending) == 0 {
		return 0, nil
	}
	if lower == nil {
		return 0, fmt.Errorf("finishing hardlinks: no lower layers given: %w", errdefs.ErrInvalid)
	}
	x, err := newExtractor(ctx, dir, Options{Lower: lower})
	if err != nil {
		return 0, err
	}
	defer x.close()
	for _, l := range pending {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		x.cache.closeRetired()
		if err := x.finishLink(l); err != nil {
			return 0, fmt.Errorf("layer entry %q: %w", l.Name, err)
		}
	}
	return x.size, nil
}

func (x *extractor) finishLink(l *Link) error {
	if l.f == nil {
		return fmt.Errorf("hardlink to %q: placeholder already closed: %w", l.Target, errdefs.ErrInvalid)
	}
	fd := int(l.f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Nlink == 0 {
		return nil // replaced or whited out later in the layer
	}
	host, err := x.lower(l.Target)
	if err != nil {
		return err
	}
	var hst unix.Stat_t
	if err := unix.Lstat(host, &hst); err != nil {
		return fmt.Errorf("hardlink target %q: %w", l.Target, err)
	}
	if hst.Mode&unix.S_IFMT == unix.S_IFREG {
		n, err := x.copyFile(fd, host)
		if err != nil {
			return err
		}
		x.size += n
		return x.setMetaFd(fd, &l.meta, l.meta.mode, true)
	}
	// A symlink or device cannot be poured into the placeholder: replace each of its
	// names that still is the placeholder.
	first := ""
	for _, rel := range l.names {
		dir, base := split(rel)
		pfd, err := x.dirFD(dir, false)
		if err != nil {
			continue
		}
		var cur unix.Stat_t
		if unix.Fstatat(pfd, base, &cur, unix.AT_SYMLINK_NOFOLLOW) != nil || cur.Ino != st.Ino || cur.Dev != st.Dev {
			continue
		}
		if first == "" {
			if _, err := x.copyFrom(pfd, base, host, &l.meta); err != nil {
				return err
			}
			first = rel
			continue
		}
		if err := x.linkTo(first, rel, &l.meta); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) lower(name string) (string, error) {
	host, err := x.opts.Lower(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("hardlink target %q is in neither this layer nor the layers below: %w", name, errdefs.ErrInvalid)
		}
		return "", fmt.Errorf("hardlink target %q: %w", name, err)
	}
	return host, nil
}

// hardlink links rel to an earlier entry of this layer, or copies the lower-layer
// file it names.
func (x *extractor) hardlink(rel, linkname string, m *meta) error {
	trel, err := cleanName(linkname)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	if trel == "" {
		return fmt.Errorf("hardlink to the layer root: %w", errdefs.ErrInvalid)
	}
	if trel == rel {
		return fmt.Errorf("hardlink to itself: %w", errdefs.ErrInvalid)
	}
	tdir, tbase := split(trel)
	var st unix.Stat_t
	tfd, err := x.dirFD(tdir, false)
	if err == nil {
		err = unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	switch {
	case err == nil:
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("hardlink to directory %q: %w", linkname, errdefs.ErrInvalid)
		}
		return x.linkTo(trel, rel, m)
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
		return x.linkLower(rel, trel, m)
	default:
		return fmt.Errorf("hardlink target %q: %w", linkname, err)
	}
}

// linkTo makes rel a hardlink of trel, both in this layer, and applies the entry's
// metadata to the shared inode as moby does (but never a mode through a symlink).
func (x *extractor) linkTo(trel, rel string, m *meta) error {
	dir, base := split(rel)
	pfd, err := x.dirFD(dir, true)
	if err != nil {
		return err
	}
	tdir, tbase := split(trel)
	tfd, err := x.dirFD(tdir, false)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hardlink target %q: %w", "/"+trel, err)
	}
	err = x.create(pfd, base, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) })
	if err != nil {
		return fmt.Errorf("hardlink to %q: %w", "/"+trel, err)
	}
	lm := *m
	if int(st.Uid) == m.uid && int(st.Gid) == m.gid {
		// A chown, even to the same owner, drops security.capability: keep the one
		// the file got from its own entry.
		lm.keepOwner = true
	}
	return x.setMetaAt(pfd, base, &lm, st.Mode&unix.S_IFMT != unix.S_IFLNK)
}

// linkLower handles a hardlink whose target is below this layer: a copy (a link
// would let this layer's metadata rewrite the shared lower layer), or a link to the
// copy already made in this layer, or a placeholder for FinishLinks.
func (x *extractor) linkLower(rel, trel string, m *meta) error {
	if c, ok := x.copies[trel]; ok && c.rel != rel {
		cdir, cbase := split(c.rel)
		var st unix.Stat_t
		if cfd, err := x.dirFD(cdir, false); err == nil &&
			unix.Fstatat(cfd, cbase, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Ino == c.ino {
			if c.link != nil {
				c.link.names = append(c.link.names, rel)
			}
			return x.linkTo(c.rel, rel, m)
		}
	}
	dir, base := split(rel)
	pfd, err := x.dirFD(dir, true)
	if err != nil {
		return err
	}
	if x.opts.Lower == nil {
		return x.placeholder(pfd, base, rel, trel, m)
	}
	host, err := x.lower("/" + trel)
	if err != nil {
		return err
	}
	ino, err := x.copyFrom(pfd, base, host, m)
	if err != nil {
		return err
	}
	x.copies[trel] = copyRef{rel: rel, ino: ino}
	return nil
}

func (x *extractor) placeholder(pfd int, base, rel, trel string, m *meta) error {
	fd, err := x.createFile(pfd, base, 0o600)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	err = x.setMetaFd(fd, m, m.mode, true)
	if err == nil {
		err = unix.Fstat(fd, &st)
	}
	if err != nil {
		unix.Close(fd)
		return err
	}
	l := &Link{Name: "/" + rel, Target: "/" + trel, f: os.NewFile(uintptr(fd), rel), names: []string{rel}, meta: *m}
	x.pending = append(x.pending, l)
	x.copies[trel] = copyRef{rel: rel, ino: st.Ino, link: l}
	return nil
}

// copyFrom creates base in pfd as a copy of the host file (regular, symlink or
// device) with the entry's metadata, and returns the new inode's number.
func (x *extractor) copyFrom(pfd int, base, host string, m *meta) (uint64, error) {
	var hst unix.Stat_t
	if err := unix.Lstat(host, &hst); err != nil {
		return 0, fmt.Errorf("hardlink target: %w", err)
	}
	var st unix.Stat_t
	switch hst.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		fd, err := x.createFile(pfd, base, 0o600)
		if err != nil {
			return 0, err
		}
		defer unix.Close(fd)
		n, err := x.copyFile(fd, host)
		if err != nil {
			return 0, err
		}
		x.size += n
		if err := x.setMetaFd(fd, m, m.mode, true); err != nil {
			return 0, err
		}
		err = unix.Fstat(fd, &st)
		return st.Ino, err
	case unix.S_IFLNK:
		target, err := os.Readlink(host)
		if err != nil {
			return 0, fmt.Errorf("hardlink target: %w", err)
		}
		if err := x.create(pfd, base, func() error { return unix.Symlinkat(target, pfd, base) }); err != nil {
			return 0, err
		}
		x.size += int64(len(target))
		if err := x.setMetaAt(pfd, base, m, false); err != nil {
			return 0, err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		typ := hst.Mode & unix.S_IFMT
		err := x.create(pfd, base, func() error { return unix.Mknodat(pfd, base, typ|0o600, int(hst.Rdev)) })
		if errors.Is(err, unix.EPERM) && typ != unix.S_IFIFO {
			x.skippedDevices++
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if err := x.setMetaAt(pfd, base, m, true); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("hardlink to a directory below this layer: %w", errdefs.ErrInvalid)
	}
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st.Ino, err
}

// copyFile appends the content of the host file to fd: copy_file_range (a reflink
// where the filesystem can), else read and write through the extractor's buffer.
func (x *extractor) copyFile(fd int, host string) (int64, error) {
	src, err := unix.Open(host, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("hardlink target: %w", err)
	}
	defer unix.Close(src)
	var n int64
	for {
		c, err := unix.CopyFileRange(src, nil, fd, nil, 1<<30, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if n == 0 && (err == unix.EXDEV || err == unix.ENOSYS || err == unix.EINVAL || err == unix.EOPNOTSUPP) {
				break
			}
			return n, fmt.Errorf("copying hardlink target: %w", err)
		}
		if c == 0 {
			return n, nil
		}
		n += int64(c)
	}
	for {
		c, err := unix.Read(src, x.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("copying hardlink target: %w", err)
		}
		if c == 0 {
			return n, nil
		}
		if err := writeAll(fd, x.buf[:c]); err != nil {
			return n, err
		}
		n += int64(c)
	}
}
