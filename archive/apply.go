package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// Options tune Apply.
type Options struct {
	// Lower finds name (a clean absolute path inside the image, "/usr/bin/x") in the
	// layers below this one, for a hardlink whose target is not in this layer, and
	// returns the host path of that file, or an error wrapping fs.ErrNotExist. When
	// Lower is nil such links are not an error yet: Apply leaves an empty placeholder
	// and returns them in Result.Pending for FinishLinks, because a layer may unpack
	// before the layers below it are known (berth load reads manifest.json last).
	Lower func(name string) (string, error)
	// Writeback, when > 0, asks the kernel to start writing each file of at
	// least this many bytes to disk as soon as it is written
	// (sync_file_range SYNC_FILE_RANGE_WRITE, which does not wait), so the
	// one syncfs that later makes the layer durable finds little left to do.
	Writeback int64
	// Reserve, when set, hears the size each entry's header declares for its
	// content before any of it is read on, and may refuse it: a tar can
	// declare files of exabytes, and a sparse one costs the tar nothing
	// for them. Its error stops Apply.
	Reserve func(size int64) error
}

// Result tells what Apply did.
type Result struct {
	// Size is the layer's size as Docker 20.10 on overlay2 counts it: Size(dir).
	// Pending links add to it when FinishLinks fills them.
	Size int64
	// Entries counts the tar entries that were applied.
	Entries int
	// SkippedDevices counts character and block devices not created because this
	// process may not (not root, or root in a user namespace), as moby skips them.
	SkippedDevices int
	// Pending are hardlinks to lower-layer files, each holding an open placeholder.
	// Pass them to FinishLinks, or Close them.
	Pending []*Link
}

// Apply extracts the uncompressed layer tar read from r into dir, an existing empty
// directory that becomes one overlayfs lower layer. It reads r to its end, so a
// hashing reader beneath sees the whole stream; a second goroutine reads r ahead
// while this one writes files, and Apply returns only once it has stopped, so a
// cancelled ctx takes effect when a pending r.Read returns. On error dir holds a
// partial layer that the caller removes.
func Apply(ctx context.Context, dir string, r io.Reader, opts Options) (Result, error) {
	x, err := newExtractor(ctx, dir, opts)
	if err != nil {
		return Result{}, err
	}
	res, err := x.run(r)
	if err != nil {
		for _, l := range x.pending {
			l.Close()
		}
		x.close()
		return Result{}, err
	}
	return res, x.close()
}

func (x *extractor) run(r io.Reader) (Result, error) {
	p := newReader(r)
	go p.run()
	s := &items{p: p}
	defer s.stop()
	for {
		it, ok := s.next()
		if !ok {
			return Result{}, fmt.Errorf("reading layer tar: %w", io.ErrUnexpectedEOF)
		}
		if it.hdr == nil {
			if it.err == io.EOF {
				break
			}
			return Result{}, tarError(it.err)
		}
		if err := x.ctx.Err(); err != nil {
			return Result{}, err
		}
		x.cache.closeRetired()
		c := content{s: s, first: it.data, rest: it.hdr.Size - int64(len(it.data))}
		if !hasContent(it.hdr.Typeflag) {
			c.rest = 0
		}
		if err := x.apply(it, &c); err != nil {
			if ctxErr := x.ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return Result{}, ctxErr
			}
			return Result{}, fmt.Errorf("layer entry %q: %w", it.hdr.Name, err)
		}
	}
	if err := x.finish(); err != nil {
		return Result{}, err
	}
	// Placeholders whose every name was replaced later in the layer need nothing.
	pending := x.pending[:0]
	for _, l := range x.pending {
		var st unix.Stat_t
		if err := unix.Fstat(int(l.f.Fd()), &st); err == nil && st.Nlink == 0 {
			l.Close()
			continue
		}
		pending = append(pending, l)
	}
	x.pending = pending
	return Result{Size: x.size, Entries: x.entries, SkippedDevices: x.skippedDevices, Pending: pending}, nil
}

// apply applies one entry and consumes its content, once Reserve agreed
// to its size.
func (x *extractor) apply(it item, c *content) error {
	if x.opts.Reserve != nil && hasContent(it.hdr.Typeflag) {
		if err := x.opts.Reserve(it.hdr.Size); err != nil {
			return err
		}
	}
	if it.err != nil {
		return contentError(it.err)
	}
	if err := x.entry(it.hdr, c); err != nil {
		return err
	}
	return c.skip()
}

func contentError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("reading file content: %w (%w)", err, errdefs.ErrInvalid)
	}
	return fmt.Errorf("reading file content: %w", err)
}

func tarError(err error) error {
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("reading layer tar: %w (%w)", err, errdefs.ErrInvalid)
	}
	return fmt.Errorf("reading layer tar: %w", err)
}

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	opaqueMarker   = ".wh..wh..opq"
	// aufsLinkDir holds the files that AUFS-era layers hardlink to; Apply unpacks it
	// like any directory so the links resolve, then removes it.
	aufsLinkDir = ".wh..wh.plnk"
)

// cleanName returns an entry name relative to the layer root ("" for the root
// itself). A leading "/" is joined under the root; a name that climbs out of the
// root is an error.
func cleanName(name string) (string, error) {
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("path %q leaves the layer root: %w", name, errdefs.ErrInvalid)
	}
	c = strings.TrimPrefix(c, "/")
	if c == "." {
		c = ""
	}
	return c, nil
}

// split splits a clean relative name into its directory ("" for the root) and base.
func split(rel string) (string, string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

func (x *extractor) entry(hdr *tar.Header, c *content) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "" {
		// moby leaves the layer root as it is.
		return nil
	}
	dir, base := split(rel)
	switch x.aufsMeta(rel, base) {
	case aufsSkip:
		return nil
	case aufsNone:
		if base == opaqueMarker {
			return x.opaque(dir)
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			return x.whiteout(dir, base[len(whiteoutPrefix):], hdr)
		}
	}
	m := metaOf(hdr)
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = x.mkdir(rel, &m)
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont:
		err = x.file(rel, &m, c, hdr.Size)
	case tar.TypeSymlink:
		err = x.symlink(rel, hdr.Linkname, &m)
	case tar.TypeLink:
		err = x.hardlink(rel, hdr.Linkname, &m)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		err = x.node(rel, hdr, &m)
	default:
		return fmt.Errorf("tar entry type %q: %w", hdr.Typeflag, errdefs.ErrUnsupported)
	}
	if err == nil {
		x.entries++
	}
	return err
}

const (
	aufsNone  = iota
	aufsSkip  // AUFS bookkeeping with no meaning on overlayfs
	aufsLinks // inside the AUFS hardlink directory: unpacked, removed at the end
)

// aufsMeta tells whether an entry is AUFS bookkeeping. ".wh..wh.plnk" at the root
// is unpacked like any directory, because hardlinks in the layer may point into it,
// and removed at the end.
func (x *extractor) aufsMeta(rel, base string) int {
	if !strings.Contains(rel, whiteoutMeta) {
		return aufsNone
	}
	if rel == aufsLinkDir || strings.HasPrefix(rel, aufsLinkDir+"/") {
		x.aufsLinks = true
		return aufsLinks
	}
	for c := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(c, whiteoutMeta) && !(c == opaqueMarker && c == base) {
			return aufsSkip
		}
	}
	return aufsNone
}

func (x *extractor) opaque(dir string) error {
	pfd, err := x.dirFD(dir, true)
	if err != nil {
		return err
	}
	if err := unix.Fsetxattr(pfd, opaqueXattr, []byte{'y'}, 0); err != nil {
		return fmt.Errorf("marking %q opaque (setxattr %s): %w", "/"+dir, opaqueXattr, err)
	}
	x.entries++
	return nil
}

const opaqueXattr = "trusted.overlay.opaque"

func (x *extractor) whiteout(dir, name string, hdr *tar.Header) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("whiteout of %q: %w", name, errdefs.ErrInvalid)
	}
	pfd, err := x.dirFD(dir, true)
	if err != nil {
		return err
	}
	err = x.create(pfd, name, func() error { return unix.Mknodat(pfd, name, unix.S_IFCHR, 0) })
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("creating the overlay whiteout needs root (CAP_MKNOD): %w", err)
		}
		return fmt.Errorf("creating the overlay whiteout: %w", err)
	}
	if x.root0 {
		if err := unix.Fchownat(pfd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown of the whiteout: %w", err)
		}
	}
	x.entries++
	return nil
}

// mkdir creates a directory, or keeps an existing one and updates its metadata.
// Times (and, when not root, the mode) are set at the end, as moby does, because
// creating entries inside would change them again.
func (x *extractor) mkdir(rel string, m *meta) error {
	dir, base := split(rel)
	pfd, err := x.dirFD(dir, true)
	if err != nil {
		return err
	}
	err = unix.Mkdirat(pfd, base, 0o700)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := x.remove(pfd, base, &st); err != nil {
				return err
			}
			err = unix.Mkdirat(pfd, base, 0o700)
		} else {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	mode := m.mode
	if !x.root0 {
		// Keep the directory writable for us until the end, when its mode is set.
		mode |= 0o700
	}
	if err := x.setMetaFd(fd, m, mode, false); err != nil {
		unix.Close(fd)
		return err
	}
	x.cache.put(rel, dirEnt{fd: fd, sgid: mode&unix.S_ISGID != 0})
	x.dirs = append(x.dirs, dirMeta{rel: rel, mode: m.mode, times: m.times})
	return nil
}

func (x *extractor) file(rel string, m *meta, c *content, size int64) error {
	dir, base := split(rel)
	d, err := x.dir(dir, true)
	if err != nil {
		return err
	}
	// Most files need neither chown nor chmod after an open with their mode: skip
	// the two syscalls when the owner and mode come out right by themselves.
	perm := m.mode & 0o777
	fd, err := x.createFile(d.fd, base, perm)
	if err != nil {
		return err
	}
	if err := x.copyIn(fd, c); err != nil {
		unix.Close(fd)
		return err
	}
	if x.opts.Writeback > 0 && size >= x.opts.Writeback {
		// Only a hint: a filesystem without it writes the file back later.
		_ = unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	}
	x.size += size
	fm := *m
	fm.keepOwner = !x.root0 || (m.uid == x.euid && m.gid == x.egid && !d.sgid)
	fm.keepMode = x.umask >= 0 && m.mode == perm&^uint32(x.umask)
	if err := x.setMetaFd(fd, &fm, m.mode, true); err != nil {
		unix.Close(fd)
		return err
	}
	return unix.Close(fd)
}

// createFile creates an empty regular file, replacing whatever is at base.
func (x *extractor) createFile(pfd int, base string, perm uint32) (int, error) {
	fd := -1
	err := x.create(pfd, base, func() error {
		var err error
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		return err
	})
	return fd, err
}

// copyIn writes the content to fd as the reader hands it over.
func (x *extractor) copyIn(fd int, c *content) error {
	first := true
	var h holes
	err := c.each(func(b []byte) error {
		if !first {
			// A big file: do not make a cancelled caller wait for all of it.
			if err := x.ctx.Err(); err != nil {
				return err
			}
		}
		first = false
		return h.write(fd, b)
	})
	if err != nil {
		return err
	}
	return h.finish(fd)
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("writing file content: %w", err)
		}
		b = b[n:]
	}
	return nil
}

func (x *extractor) symlink(rel, target string, m *meta) error {
	dir, base := split(rel)
	pfd, err := x.dirFD(dir, true)
	if err != nil {
		return err
	}
	if err := x.create(pfd, base, func() error { return unix.Symlinkat(target, pfd, base) }); err != nil {
		return fmt.Errorf("symlink to %q: %w", target, err)
	}
	x.size += int64(len(target))
	return x.setMetaAt(pfd, base, m, false)
}

func (x *extractor) node(rel string, hdr *tar.Header, m *meta) error {
	dir, base := split(rel)
	pfd, err := x.dirFD(dir, true)
	if err != nil {
		return err
	}
	var typ uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		typ = unix.S_IFCHR
	case tar.TypeBlock:
		typ = unix.S_IFBLK
	default:
		typ = unix.S_IFIFO
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err = x.create(pfd, base, func() error { return unix.Mknodat(pfd, base, typ|0o600, dev) })
	if errors.Is(err, unix.EPERM) && typ != unix.S_IFIFO {
		x.skippedDevices++
		return nil
	}
	if err != nil {
		return err
	}
	return x.setMetaAt(pfd, base, m, true)
}

// create runs mk; when the name is taken, it removes what is there (a symlink is
// removed, never followed) and runs mk again.
func (x *extractor) create(pfd int, base string, mk func() error) error {
	err := mk()
	if err != unix.EEXIST {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if err := x.remove(pfd, base, &st); err != nil {
		return err
	}
	return mk()
}

// finish removes the AUFS link directory and sets directory times (and modes when
// not root) now that nothing more is created inside.
func (x *extractor) finish() error {
	if x.aufsLinks {
		var st unix.Stat_t
		if err := unix.Fstatat(x.root, aufsLinkDir, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			if err := x.remove(x.root, aufsLinkDir, &st); err != nil {
				return fmt.Errorf("removing %s: %w", aufsLinkDir, err)
			}
		}
	}
	for _, d := range x.dirs {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		x.cache.closeRetired()
		if err := x.finishDir(d); err != nil {
			return fmt.Errorf("layer entry %q: %w", d.rel, err)
		}
	}
	return nil
}

func (x *extractor) finishDir(d dirMeta) error {
	parent, base := split(d.rel)
	pfd, err := x.dirFD(parent, false)
	if err != nil {
		return nil // removed or replaced later in the layer
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	if !x.root0 {
		if err := unix.Fchmod(fd, d.mode); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := futimens(fd, &d.times); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}
