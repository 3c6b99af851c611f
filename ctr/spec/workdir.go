package spec

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"

	"github.com/berth-dev/berth/errdefs"
)

// CheckWorkDir refuses a working directory that is not absolute or lies in
// /proc. A process started in /proc/self/fd/N (or a cousin such as
// /proc/1/cwd) starts in whatever directory the runtime happened to hold
// open, outside the container: the CVE-2024-21626 class.
func CheckWorkDir(dir string) error {
	if !path.IsAbs(dir) {
		return errdefs.Newf(errdefs.ErrInvalid, "the working directory '%s' is invalid, it needs to be an absolute path", dir)
	}
	if underProc(path.Clean(dir)) {
		return errdefs.Newf(errdefs.ErrInvalid, "the working directory '%s' is invalid, it is inside /proc", dir)
	}
	return nil
}

var errInProc = errors.New("path leads into /proc")

// noProc is the file system as seen by path resolution, refusing to look
// into root's /proc.
type noProc struct{ root string }

func (v noProc) inProc(name string) bool {
	rel, err := filepath.Rel(v.root, name)
	return err == nil && underProc("/"+filepath.ToSlash(rel))
}

func (v noProc) Lstat(name string) (os.FileInfo, error) {
	if v.inProc(name) {
		return nil, errInProc
	}
	return os.Lstat(name)
}

func (v noProc) Readlink(name string) (string, error) {
	if v.inProc(name) {
		return "", errInProc
	}
	return os.Readlink(name)
}

func underProc(p string) bool {
	return p == "/proc" || strings.HasPrefix(p, "/proc/")
}

// ResolveWorkDir resolves dir inside the container root as the container
// will see it, so that symlinks in the image cannot lead it into /proc, and
// returns the resolved path. With create set, a missing directory is made
// (as Docker does at start) inside root, never through a symlink out of it.
func ResolveWorkDir(root, dir string, create bool) (string, error) {
	if err := CheckWorkDir(dir); err != nil {
		return "", err
	}
	// Resolution stops at the container's /proc: nothing there is looked
	// at, let alone followed (when root is /proc/<pid>/root, its /proc is
	// a live procfs full of magic links).
	full, err := securejoin.SecureJoinVFS(root, dir, noProc{root: filepath.Clean(root)})
	if errors.Is(err, errInProc) {
		return "", errdefs.Newf(errdefs.ErrInvalid, "the working directory '%s' is invalid, it leads into /proc", dir)
	}
	if err != nil {
		return "", fmt.Errorf("resolve working directory %s: %w", dir, err)
	}
	rel, err := filepath.Rel(root, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", errdefs.Newf(errdefs.ErrInvalid, "working directory %s resolves outside the container", dir)
	}
	resolved := "/" + filepath.ToSlash(rel)
	if rel == "." {
		resolved = "/"
	}
	if underProc(resolved) {
		return "", errdefs.Newf(errdefs.ErrInvalid, "the working directory '%s' is invalid, it resolves to %s inside /proc", dir, resolved)
	}
	if create {
		if err := pathrs.MkdirAll(root, resolved, 0o755); err != nil {
			return "", fmt.Errorf("create working directory %s: %w", dir, err)
		}
	} else if _, err := os.Lstat(full); err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("working directory %s: %w", dir, err)
	}
	return resolved, nil
}
