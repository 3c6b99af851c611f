package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// dirCache keeps descriptors of recently used parent directories, keyed by their
// name in the layer. Tars list a directory's entries together, so most entries find
// their parent here without a path walk. A descriptor dropped from the cache is
// retired, not closed, because the entry being applied may still use it; retired
// descriptors are closed before the next entry.
type dirCache struct {
	fds     map[string]dirEnt
	retired []int
}

// dirEnt is an open directory; sgid tells whether files made in it take its group.
type dirEnt struct {
	fd   int
	sgid bool
}

const dirCacheMax = 128

func (c *dirCache) put(rel string, d dirEnt) {
	if c.fds == nil {
		c.fds = make(map[string]dirEnt, dirCacheMax)
	}
	if old, ok := c.fds[rel]; ok {
		c.retired = append(c.retired, old.fd)
	} else if len(c.fds) >= dirCacheMax {
		c.invalidate()
	}
	c.fds[rel] = d
}

// invalidate forgets every cached directory. Called whenever anything is removed:
// a name may reach a directory through symlinks, so a removal can change what any
// cached name resolves to.
func (c *dirCache) invalidate() {
	for k, d := range c.fds {
		c.retired = append(c.retired, d.fd)
		delete(c.fds, k)
	}
}

func (c *dirCache) closeRetired() {
	for _, fd := range c.retired {
		unix.Close(fd)
	}
	c.retired = c.retired[:0]
}

func (c *dirCache) closeAll() {
	c.invalidate()
	c.closeRetired()
}

// dirFD returns a descriptor of the directory rel, resolved inside the layer root.
// With create, missing directories are made 0755 (root-owned when root), as moby
// makes the implicit parents of an entry. The descriptor belongs to the cache.
func (x *extractor) dirFD(rel string, create bool) (int, error) {
	d, err := x.dir(rel, create)
	return d.fd, err
}

func (x *extractor) dir(rel string, create bool) (dirEnt, error) {
	if rel == "" {
		return x.rootEnt, nil
	}
	if d, ok := x.cache.fds[rel]; ok {
		return d, nil
	}
	fd, err := x.openDir(rel)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return dirEnt{fd: -1}, dirError(rel, err)
		}
		d := dirEnt{fd: fd, sgid: st.Mode&unix.S_ISGID != 0}
		x.cache.put(rel, d)
		return d, nil
	}
	if !create || !errors.Is(err, fs.ErrNotExist) {
		return dirEnt{fd: -1}, dirError(rel, err)
	}
	parent, base := split(rel)
	pfd, err := x.dirFD(parent, true)
	if err != nil {
		return dirEnt{fd: -1}, err
	}
	if err := unix.Mkdirat(pfd, base, 0o755); err != nil {
		if err == unix.EEXIST {
			// The name exists but did not resolve: a symlink to nothing.
			return dirEnt{fd: -1}, fmt.Errorf("parent directory %q is a symlink to a missing directory: %w", "/"+rel, unix.ENOENT)
		}
		return dirEnt{fd: -1}, dirError(rel, err)
	}
	fd, err = unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return dirEnt{fd: -1}, dirError(rel, err)
	}
	if x.root0 {
		err = unix.Fchown(fd, 0, 0)
	}
	if err == nil {
		err = unix.Fchmod(fd, 0o755) // neither the umask nor a setgid parent decides
	}
	if err != nil {
		unix.Close(fd)
		return dirEnt{fd: -1}, dirError(rel, err)
	}
	d := dirEnt{fd: fd}
	x.cache.put(rel, d)
	return d, nil
}

func dirError(rel string, err error) error {
	return fmt.Errorf("parent directory %q: %w", "/"+rel, err)
}

// openDir opens rel as a directory, every symlink on the way resolved as if the layer
// root were "/": an absolute or ".."-climbing symlink stays inside the layer.
func (x *extractor) openDir(rel string) (int, error) {
	if haveOpenat2() && !forceSecurejoin {
		how := unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		}
		for {
			fd, err := unix.Openat2(x.root, rel, &how)
			// EAGAIN: a concurrent rename somewhere in the filesystem; the kernel
			// asks to retry rather than risk a wrong "..".
			if err != unix.EAGAIN && err != unix.EINTR {
				return fd, err
			}
		}
	}
	f, err := pathrs.OpenatInRoot(x.rootFile, rel)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	return unix.Openat(int(f.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// haveOpenat2 reports whether the kernel (and any seccomp filter) allows openat2;
// without it, parents resolve through filepath-securejoin's openat walk.
var haveOpenat2 = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// forceSecurejoin makes tests exercise the fallback on a kernel that has openat2.
var forceSecurejoin bool

// remove removes base from pfd (recursively for a directory) and keeps the size
// count right: a file's size leaves the count when its last name goes.
func (x *extractor) remove(pfd int, base string, st *unix.Stat_t) error {
	x.cache.invalidate()
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return x.removeAll(pfd, base)
	}
	return x.unlink(pfd, base, st)
}

func (x *extractor) unlink(pfd int, base string, st *unix.Stat_t) error {
	if err := unix.Unlinkat(pfd, base, 0); err != nil {
		return fmt.Errorf("removing %q: %w", base, err)
	}
	if st.Nlink == 1 {
		x.size -= st.Size
		x.forget(st.Ino)
	}
	return nil
}

func (x *extractor) removeAll(pfd int, base string) error {
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("removing %q: %w", base, err)
	}
	f := os.NewFile(uintptr(fd), base)
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return fmt.Errorf("removing %q: %w", base, err)
	}
	for _, n := range names {
		var st unix.Stat_t
		if err = unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			break
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = x.removeAll(fd, n)
		} else {
			err = x.unlink(fd, n, &st)
		}
		if err != nil {
			break
		}
	}
	f.Close()
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("removing %q: %w", base, err)
	}
	return nil
}

// forget drops copies of lower files whose inode is gone, so a later link to the
// same lower file makes a new copy instead of linking to a reused inode number.
func (x *extractor) forget(ino uint64) {
	for k, c := range x.copies {
		if c.ino == ino {
			delete(x.copies, k)
		}
	}
}

// futimens sets the times of the file fd refers to: utimensat(fd, NULL, ...), which
// x/sys does not wrap without a path.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// chmodAt changes the mode of base, never through a symlink: fchmodat2 with
// AT_SYMLINK_NOFOLLOW (Linux 6.6), else plain fchmodat, which callers only use on a
// name they just made as a non-symlink.
func chmodAt(pfd int, base string, mode uint32) error {
	if haveFchmodat2() {
		return unix.Fchmodat(pfd, base, mode, unix.AT_SYMLINK_NOFOLLOW)
	}
	return unix.Fchmodat(pfd, base, mode, 0)
}

var haveFchmodat2 = sync.OnceValue(func() bool {
	_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, ^uintptr(0), 0, 0, 0, 0, 0)
	return e != unix.ENOSYS
})

// lsetxattrAt sets an xattr on base in pfd without following a symlink:
// setxattrat(2) (Linux 6.13), else lsetxattr through the /proc/self/fd link of pfd.
func lsetxattrAt(pfd int, base, name string, value []byte) error {
	if haveSetxattrat() {
		return setxattrat(pfd, base, name, value)
	}
	return unix.Lsetxattr("/proc/self/fd/"+strconv.Itoa(pfd)+"/"+base, name, value, 0)
}

type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

func setxattrat(pfd int, base, name string, value []byte) error {
	p, err := unix.BytePtrFromString(base)
	if err != nil {
		return err
	}
	n, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	args := xattrArgs{size: uint32(len(value))}
	// The value's address hides in an integer, so nothing may run between taking it
	// and the (nosplit) syscall: no call that could grow and move the stack.
	if len(value) > 0 {
		args.value = uint64(uintptr(unsafe.Pointer(&value[0])))
	}
	_, _, e := unix.Syscall6(unix.SYS_SETXATTRAT, uintptr(pfd), uintptr(unsafe.Pointer(p)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(n)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	runtime.KeepAlive(value)
	if e != 0 {
		return e
	}
	return nil
}

var haveSetxattrat = sync.OnceValue(func() bool {
	_, _, e := unix.Syscall6(unix.SYS_SETXATTRAT, ^uintptr(0), 0, 0, 0, 0, 0)
	return e != unix.ENOSYS
})
