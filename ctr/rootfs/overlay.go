// Package rootfs mounts a container's root filesystem: an overlay of the
// image's layer directories, read-only and shared by every container of the
// image, under the container's own upper directory, which takes its writes.
//
// mount(2) takes at most one page of options, so a lowerdir list of long
// layer paths fails at about 45 layers. The new mount API has no such limit:
// fsconfig(2) with "lowerdir+" adds one layer per call (Linux 6.8 and
// later). On older kernels the layers are reached through short symlinks, as
// Docker's overlay2 driver does, which fits about 128 layers in the page.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// Overlay describes a container's root filesystem.
type Overlay struct {
	// Lower are the image's layer directories, lowest first.
	Lower []string
	// Upper takes the container's writes; Work is overlayfs's scratch
	// directory on the same filesystem.
	Upper, Work string
	// LinkDir holds short links to the layers when mount(2) is used and the
	// full paths do not fit; it is made and removed by Mount and Unmount.
	LinkDir string
	// Volatile mounts with overlayfs's "volatile" option, for a writable
	// layer that need not survive a crash: the overlay never syncs its
	// upper filesystem, neither for the container's fsyncs nor at
	// unmount, where an ordinary overlay syncs the whole filesystem the
	// upper directory is on (syncfs of the host's disk, the slowest step
	// of a short container's teardown). After a crash of the host its
	// upper directory may have lost writes: Mount then refuses it (see
	// readyVolatile). Kernels before 5.10 lack the option: the overlay is
	// mounted as usual.
	Volatile bool
}

// volatileBoot, in the work directory, is the boot ID of the host when a
// volatile overlay was last mounted on it.
const volatileBoot = "berth-volatile-boot"

// readyVolatile readies the work directory for a volatile mount.
// overlayfs leaves a marker in it at every volatile mount, clean unmount
// or not, and refuses the directory while the marker is there. Within one
// boot the page cache kept every write, so the marker goes; after a crash
// of the host the upper directory may have lost writes and is refused.
func (o Overlay) readyVolatile() error {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return fmt.Errorf("read boot id: %w", err)
	}
	marker := filepath.Join(o.Work, "work", "incompat", "volatile")
	if _, err := os.Lstat(marker); err == nil {
		if was, _ := os.ReadFile(filepath.Join(o.Work, volatileBoot)); string(was) != string(boot) {
			return errdefs.Newf(errdefs.ErrConflict, "the writable layer in %s was mounted without syncs before the host restarted and may have lost writes", o.Upper)
		}
		if err := os.RemoveAll(marker); err != nil {
			return fmt.Errorf("overlay work directory: %w", err)
		}
	}
	// Not synced: lost in a crash, it is missing, which refuses the
	// layer as the crash requires.
	if err := os.WriteFile(filepath.Join(o.Work, volatileBoot), boot, 0o600); err != nil {
		return fmt.Errorf("overlay work directory: %w", err)
	}
	return nil
}

// useNewAPI is switched off by tests to exercise the mount(2) path.
var useNewAPI = true

// pageSize is the most option data mount(2) accepts.
const pageSize = 4096

// Mount mounts the overlay at target, an existing directory.
func (o Overlay) Mount(target string) error {
	if len(o.Lower) == 0 {
		return errdefs.Newf(errdefs.ErrInvalid, "overlay needs at least one lower directory")
	}
	if o.Volatile {
		if err := o.readyVolatile(); err != nil {
			return err
		}
	}
	if useNewAPI {
		err := o.mountNew(target)
		if !errors.Is(err, errOldKernel) {
			return err
		}
	}
	return o.mountOld(target)
}

// errOldKernel: the new mount API is missing or does not know "lowerdir+".
var errOldKernel = errors.New("kernel without overlay lowerdir+")

func (o Overlay) mountNew(target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if errors.Is(err, unix.ENOSYS) {
		return errOldKernel
	}
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	// overlayfs lists its layers top first.
	for i := len(o.Lower) - 1; i >= 0; i-- {
		err := unix.FsconfigSetString(fd, "lowerdir+", o.Lower[i])
		if i == len(o.Lower)-1 && errors.Is(err, unix.EINVAL) {
			return errOldKernel
		}
		if err != nil {
			return fsError(fd, fmt.Sprintf("overlay lowerdir+ %s", o.Lower[i]), err)
		}
	}
	for _, kv := range [][2]string{{"upperdir", o.Upper}, {"workdir", o.Work}, {"index", "off"}} {
		if err := unix.FsconfigSetString(fd, kv[0], kv[1]); err != nil {
			return fsError(fd, "overlay "+kv[0], err)
		}
	}
	if o.Volatile {
		// A kernel without the option (before 5.10) says EINVAL: the
		// overlay is then an ordinary one.
		if err := unix.FsconfigSetFlag(fd, "volatile"); err != nil && !errors.Is(err, unix.EINVAL) {
			return fsError(fd, "overlay volatile", err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fsError(fd, "create overlay", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fsError(fd, "fsmount overlay", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move overlay mount to %s: %w", target, err)
	}
	return nil
}

// fsError adds the kernel's own explanation, kept in the filesystem
// context, to a failed fsconfig step.
func fsError(fd int, what string, err error) error {
	var msgs []string
	buf := make([]byte, 1024)
	for range 16 {
		n, rerr := unix.Read(fd, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s: %w (%s)", what, err, strings.Join(msgs, "; "))
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (o Overlay) mountOld(target string) error {
	data := o.options(o.Lower)
	if len(data) >= pageSize || strings.ContainsAny(strings.Join(o.Lower, ""), ":,\\") {
		links, err := o.makeLinks()
		if err != nil {
			return err
		}
		data = o.options(links)
		if len(data) >= pageSize {
			_ = os.RemoveAll(o.LinkDir)
			return errdefs.Newf(errdefs.ErrUnsupported, "%d layers do not fit in mount options on this kernel (Linux 6.8 lifts the limit)", len(o.Lower))
		}
	}
	if o.Volatile {
		err := unix.Mount("overlay", target, "overlay", 0, data+",volatile")
		if !errors.Is(err, unix.EINVAL) {
			return wrapMountError(target, err)
		}
		// Perhaps a kernel without the option (before 5.10): try without.
	}
	return wrapMountError(target, unix.Mount("overlay", target, "overlay", 0, data))
}

func wrapMountError(target string, err error) error {
	if err != nil {
		return fmt.Errorf("mount overlay at %s: %w", target, err)
	}
	return nil
}

func (o Overlay) options(lower []string) string {
	top := make([]string, len(lower))
	for i, l := range lower {
		top[len(lower)-1-i] = l
	}
	return "lowerdir=" + strings.Join(top, ":") + ",upperdir=" + o.Upper + ",workdir=" + o.Work + ",index=off"
}

// makeLinks makes one short symlink per layer in LinkDir.
func (o Overlay) makeLinks() ([]string, error) {
	if o.LinkDir == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "overlay of %d layers needs a link directory", len(o.Lower))
	}
	if err := os.RemoveAll(o.LinkDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.LinkDir, 0o700); err != nil {
		return nil, fmt.Errorf("make layer links: %w", err)
	}
	links := make([]string, len(o.Lower))
	for i, l := range o.Lower {
		links[i] = filepath.Join(o.LinkDir, strconv.FormatInt(int64(i), 36))
		if err := os.Symlink(l, links[i]); err != nil {
			return nil, fmt.Errorf("make layer links: %w", err)
		}
	}
	return links, nil
}

// Unmount unmounts the overlay at target and removes its links. A target
// that is not mounted is not an error: after a reboot nothing is.
func (o Overlay) Unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	if o.LinkDir != "" {
		if err := os.RemoveAll(o.LinkDir); err != nil {
			return err
		}
	}
	return nil
}

// Mounted reports whether path is a mount point.
func Mounted(path string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(path), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev || st.Ino == parent.Ino, nil
}
