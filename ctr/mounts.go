package ctr

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/ctr/volume"
	"github.com/berth-dev/berth/errdefs"
)

// VolumeSpec is a parsed -v value.
type VolumeSpec struct {
	// Source is an absolute host path (a bind), a volume name, or "" (an
	// anonymous volume).
	Source      string
	Destination string
	ReadOnly    bool
	// NoCopy keeps a new volume empty instead of filling it from the image.
	NoCopy bool
}

// Bind reports whether the spec is a bind mount of a host path.
func (v VolumeSpec) Bind() bool { return strings.HasPrefix(v.Source, "/") }

// ParseVolume parses -v HOST:CONTAINER[:OPTS], NAME:CONTAINER[:OPTS] or
// CONTAINER, as Docker does. OPTS are ro, rw, nocopy and the SELinux z/Z,
// which berth accepts and ignores.
func ParseVolume(s string) (VolumeSpec, error) {
	bad := func(why string) (VolumeSpec, error) {
		if why != "" {
			why = ": " + why
		}
		return VolumeSpec{}, errdefs.Newf(errdefs.ErrInvalid, "invalid volume specification: '%s'%s", s, why)
	}
	parts := strings.Split(s, ":")
	var v VolumeSpec
	switch len(parts) {
	case 1:
		v.Destination = parts[0]
	case 2:
		if !path.IsAbs(parts[1]) && path.IsAbs(parts[0]) && isMode(parts[1]) {
			// "/ctr:ro": an anonymous volume with options.
			v.Destination = parts[0]
			if err := v.setMode(parts[1]); err != nil {
				return bad(err.Error())
			}
			break
		}
		v.Source, v.Destination = parts[0], parts[1]
	case 3:
		v.Source, v.Destination = parts[0], parts[1]
		if err := v.setMode(parts[2]); err != nil {
			return bad(err.Error())
		}
	default:
		return bad("")
	}
	if v.Destination == "" || !path.IsAbs(v.Destination) {
		return bad(fmt.Sprintf("invalid mount config: invalid mount path: '%s' mount path must be absolute", v.Destination))
	}
	if path.Clean(v.Destination) == "/" {
		return bad("invalid mount config: destination can't be '/'")
	}
	v.Destination = path.Clean(v.Destination)
	if v.Source != "" && !v.Bind() {
		if err := volume.CheckName(v.Source); err != nil {
			return VolumeSpec{}, err
		}
	}
	return v, nil
}

func isMode(s string) bool {
	for _, o := range strings.Split(s, ",") {
		switch o {
		case "ro", "rw", "z", "Z", "nocopy":
		default:
			return false
		}
	}
	return true
}

func (v *VolumeSpec) setMode(s string) error {
	for _, o := range strings.Split(s, ",") {
		switch o {
		case "ro":
			v.ReadOnly = true
		case "rw", "z", "Z":
		case "nocopy":
			v.NoCopy = true
		default:
			return fmt.Errorf("invalid mode: %s", s)
		}
	}
	return nil
}

// stageBind pins a bind mount's source before runc sees it. The source is
// opened once (symlinks are followed at that moment only), its mount tree
// is cloned from the open descriptor with open_tree(2) and attached at at,
// a path inside the container's directory that only root controls; runc
// binds that. Swapping the source, or a symlink on its path, afterwards
// reaches nothing: the CVE-2021-30465 class. It returns the source's
// resolved path.
func stageBind(src, at string) (string, error) {
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		// As Docker's -v: a missing host directory is made.
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", fmt.Errorf("create mount source path %s: %w", src, err)
		}
	}
	fd, err := unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open bind source %s: %w", src, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("bind source %s: %w", src, err)
	}
	resolved, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", fmt.Errorf("bind source %s: %w", src, err)
	}
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return "", fmt.Errorf("clone bind source %s: %w", src, err)
	}
	defer unix.Close(tree)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(at, 0o700)
	} else {
		var f *os.File
		if f, err = os.OpenFile(at, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return "", fmt.Errorf("bind mount point: %w", err)
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, at, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		os.Remove(at)
		return "", fmt.Errorf("attach bind source %s: %w", src, err)
	}
	return resolved, nil
}

// mountsUnder lists the mount points at or under dir, deepest first, from
// this process's mount table.
func mountsUnder(dir string) ([]string, error) {
	all, err := allMounts()
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, mp := range all {
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// allMounts lists every mount point of this process's mount table.
func allMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		out = append(out, unescapeMountPath(fields[4]))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountAll unmounts everything at or under dir and checks that nothing
// is left: only then may dir be deleted, or a bind-mounted host directory
// would be deleted with it.
func unmountAll(dir string) error {
	mps, err := mountsUnder(dir)
	if err != nil || len(mps) == 0 {
		return err
	}
	for _, mp := range mps {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", mp, err)
		}
	}
	if left, err := mountsUnder(dir); err != nil || len(left) > 0 {
		return fmt.Errorf("still mounted under %s: %v %w", dir, left, err)
	}
	return nil
}
