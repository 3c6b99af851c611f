package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// extractor holds the state of one Apply: the layer root, the cache of parent
// directory descriptors, and what is counted as it goes.
type extractor struct {
	ctx      context.Context
	opts     Options
	rootFile *os.File
	root     int
	rootEnt  dirEnt
	root0    bool // running as root: owners are set
	euid     int
	egid     int
	umask    int // the process umask, or -1 when unknown
	buf      []byte
	cache    dirCache

	dirs           []dirMeta // directories whose times are set at the end
	size           int64
	entries        int
	skippedDevices int
	aufsLinks      bool
	// copies remembers where a lower-layer file was copied (or a placeholder made),
	// so further links to it in this layer become links to that copy.
	copies  map[string]copyRef
	pending []*Link
}

type copyRef struct {
	rel  string
	ino  uint64
	link *Link // the pending link when the copy is a placeholder
}

type dirMeta struct {
	rel   string
	mode  uint32
	times [2]unix.Timespec
}

// bufPool keeps the 1 MiB copy buffers of layers unpacking in parallel.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func newExtractor(ctx context.Context, dir string, opts Options) (*extractor, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open layer directory", Path: dir, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat layer directory", Path: dir, Err: err}
	}
	x := &extractor{
		ctx:      ctx,
		opts:     opts,
		rootFile: os.NewFile(uintptr(fd), dir),
		root:     fd,
		rootEnt:  dirEnt{fd: fd, sgid: st.Mode&unix.S_ISGID != 0},
		euid:     os.Geteuid(),
		egid:     os.Getegid(),
		umask:    umask(),
		buf:      *bufPool.Get().(*[]byte),
		copies:   map[string]copyRef{},
	}
	x.root0 = x.euid == 0
	return x, nil
}

// umask reads the process umask without changing it (umask(2) can only set it,
// which would race with other goroutines creating files), or -1.
func umask() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

func (x *extractor) close() error {
	x.cache.closeAll()
	if b := x.buf; b != nil {
		x.buf = nil
		bufPool.Put(&b)
	}
	return x.rootFile.Close()
}

// meta is what a tar header says about an entry's owner, mode, xattrs and times.
type meta struct {
	mode     uint32 // permission bits with setuid, setgid and sticky
	uid, gid int
	times    [2]unix.Timespec // atime, mtime
	xattrs   map[string]string
	// keepOwner and keepMode skip a chown or chmod of an inode that already has the
	// owner or mode.
	keepOwner, keepMode bool
}

const paxXattr = "SCHILY.xattr."

func metaOf(hdr *tar.Header) meta {
	m := meta{mode: uint32(hdr.Mode) & 0o7777, uid: hdr.Uid, gid: hdr.Gid}
	atime := hdr.AccessTime
	if atime.Before(hdr.ModTime) {
		// As moby: the last access is never before the last change.
		atime = hdr.ModTime
	}
	m.times = [2]unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattr); ok {
			if m.xattrs == nil {
				m.xattrs = map[string]string{}
			}
			m.xattrs[name] = v
		}
	}
	return m
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// setMetaFd sets owner, xattrs, mode and (when times) times through a descriptor of
// the new file itself, in moby's order: chown clears setuid bits and capabilities,
// so it goes first.
func (x *extractor) setMetaFd(fd int, m *meta, mode uint32, times bool) error {
	if x.root0 && !m.keepOwner {
		if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
			return fmt.Errorf("chown %d:%d: %w", m.uid, m.gid, err)
		}
	}
	for k, v := range m.xattrs {
		if err := unix.Fsetxattr(fd, k, []byte(v), 0); err != nil && !ignorableXattr(err) {
			return fmt.Errorf("setting xattr %s: %w", k, err)
		}
	}
	if !m.keepMode {
		if err := unix.Fchmod(fd, mode); err != nil {
			return fmt.Errorf("chmod %#o: %w", mode, err)
		}
	}
	if times {
		if err := futimens(fd, &m.times); err != nil {
			return fmt.Errorf("setting times: %w", err)
		}
	}
	return nil
}

// setMetaAt sets the metadata of base in pfd without following base if it is a
// symlink. chmod says whether to set the mode: Linux symlinks have none.
func (x *extractor) setMetaAt(pfd int, base string, m *meta, chmod bool) error {
	if x.root0 && !m.keepOwner {
		if err := unix.Fchownat(pfd, base, m.uid, m.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %d:%d: %w", m.uid, m.gid, err)
		}
	}
	for k, v := range m.xattrs {
		if err := lsetxattrAt(pfd, base, k, []byte(v)); err != nil && !ignorableXattr(err) {
			return fmt.Errorf("setting xattr %s: %w", k, err)
		}
	}
	if chmod {
		if err := chmodAt(pfd, base, m.mode); err != nil {
			return fmt.Errorf("chmod %#o: %w", m.mode, err)
		}
	}
	if err := unix.UtimesNanoAt(pfd, base, m.times[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// ignorableXattr: as moby, xattrs the filesystem does not support or this process may
// not set (trusted.*, security.selinux without privilege) are skipped.
func ignorableXattr(err error) bool {
	return err == unix.ENOTSUP || err == unix.EPERM
}
