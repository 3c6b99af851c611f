package build

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
)

// srcFS is a tree COPY reads from: the build context, or the merged
// layers of a stage or an image. Paths are absolute inside the tree.
type srcFS interface {
	// lstat describes p, its last component not followed; host is the
	// file on the host holding its content.
	lstat(p string) (entry, error)
	// readDir lists the names in directory p, sorted.
	readDir(p string) ([]string, error)
}

type entry struct {
	fs.FileInfo
	host string
}

// contextFS is the build context with its ignore file applied.
type contextFS struct {
	root   string
	ignore *patternmatcher.PatternMatcher
}

// openContext opens the context at dir, reading the ignore file that goes
// with the Containerfile at file (<file>.dockerignore), else
// .containerignore, else .dockerignore.
func openContext(dir, file string) (*contextFS, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &contextFS{root: root}
	candidates := []string{filepath.Join(root, ".containerignore"), filepath.Join(root, ".dockerignore")}
	if file != "" {
		candidates = append([]string{file + ".containerignore", file + ".dockerignore"}, candidates...)
	}
	for _, p := range candidates {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if c.ignore, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		break
	}
	return c, nil
}

func (c *contextFS) ignored(p string) bool {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c.ignore == nil || rel == "" {
		return false
	}
	m, err := c.ignore.MatchesOrParentMatches(rel)
	return err == nil && m
}

func (c *contextFS) lstat(p string) (entry, error) {
	if c.ignored(p) {
		return entry{}, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	dir, base := path.Split(path.Clean("/" + p))
	// Symlinks on the way resolve inside the context, never out of it.
	host, err := securejoin.SecureJoin(c.root, dir)
	if err != nil {
		return entry{}, err
	}
	host = filepath.Join(host, base)
	fi, err := os.Lstat(host)
	return entry{FileInfo: fi, host: host}, err
}

func (c *contextFS) readDir(p string) ([]string, error) {
	if c.ignored(p) {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: fs.ErrNotExist}
	}
	// A symlink to a directory resolves inside the context, never out.
	host, err := securejoin.SecureJoin(c.root, p)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(host)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ents {
		if !c.ignored(path.Join(p, d.Name())) {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// layerFS is the merged view of a stack of layer directories, as overlayfs
// would show it: a whiteout hides what is below, an opaque directory hides
// the directories below it. Symlinks on the way are not followed.
type layerFS struct {
	dirs []string // lowest first
}

func (b *builder) stageFS(st *stage) srcFS {
	return layersOf(b.sess, st.layers)
}

func layersOf(sess *engine.BuildSession, layers []engine.BuildLayer) *layerFS {
	l := &layerFS{}
	for _, x := range layers {
		l.dirs = append(l.dirs, sess.LayerDir(x.ChainID))
	}
	return l
}

func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

func isOpaque(dir string) bool {
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// find looks p up from the top layer down.
func (l *layerFS) find(p string) (entry, bool) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	if parts[0] == "" {
		parts = nil
	}
layers:
	for i := len(l.dirs) - 1; i >= 0; i-- {
		cur := l.dirs[i]
		for k, part := range parts {
			cur = filepath.Join(cur, part)
			fi, err := os.Lstat(cur)
			if err != nil {
				continue layers
			}
			if isWhiteout(fi) {
				return entry{}, false
			}
			if k == len(parts)-1 {
				return entry{FileInfo: fi, host: cur}, true
			}
			if !fi.IsDir() {
				return entry{}, false
			}
			if isOpaque(cur) && i > 0 {
				l2 := &layerFS{dirs: l.dirs[i : i+1]}
				e, ok := l2.find(p)
				return e, ok
			}
		}
		fi, err := os.Lstat(cur)
		return entry{FileInfo: fi, host: cur}, err == nil
	}
	return entry{}, false
}

func (l *layerFS) lstat(p string) (entry, error) {
	e, ok := l.find(p)
	if !ok {
		return e, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	return e, nil
}

func (l *layerFS) readDir(p string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i := len(l.dirs) - 1; i >= 0; i-- {
		dir, ok := realDir(l.dirs[i], p)
		if !ok {
			continue
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, d := range ents {
			if !seen[d.Name()] {
				seen[d.Name()] = true
				if fi, err := d.Info(); err == nil && !isWhiteout(fi) {
					out = append(out, d.Name())
				}
			}
		}
		if isOpaque(dir) {
			break
		}
	}
	sort.Strings(out)
	return out, nil
}

// realDir is p in one layer directory if every component of it there is
// a directory, not a symlink: the host must never follow a layer's
// symlinks (an absolute one would lead to the host's own files).
func realDir(layer, p string) (string, bool) {
	cur := layer
	for _, part := range strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil || !fi.IsDir() {
			return "", false
		}
	}
	return cur, true
}
