package build

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
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
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/berth-dev/berth/errdefs"
)

// writePlan writes a COPY's entries into dir, a fresh layer directory,
// with the directories above dest as the stage has them.
func writePlan(ctx context.Context, stageFS srcFS, dir, dest string, plan []planned, op copyOp, uid, gid int, clamp *time.Time) error {
	// A lone file (copied or a heredoc) is dest itself; otherwise dest is
	// the directory things go into.
	parent := dest
	lone := len(plan)+len(op.contents) == 1 && (len(plan) == 0 || !plan[0].src.IsDir() && !plan[0].extract)
	if !strings.HasSuffix(dest, "/") && lone {
		parent = path.Dir(dest)
	}
	if err := mkdirAll(stageFS, dir, parent, clamp); err != nil {
		return err
	}
	for _, p := range plan {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.extract { // into dest itself
			if err := extractTar(p.src.host, filepath.Join(dir, p.dest)); err != nil {
				return fmt.Errorf("ADD %s: %w", p.dest, err)
			}
			continue
		}
		if err := mkdirAll(stageFS, dir, path.Dir(p.dest), clamp); err != nil {
			return err
		}
		if err := writeEntry(dir, p); err != nil {
			return err
		}
	}
	for _, c := range op.contents {
		to := dest
		if strings.HasSuffix(dest, "/") || len(op.contents)+len(plan) > 1 {
			to = path.Join(dest, c.Path)
		}
		p := filepath.Join(dir, to)
		if err := os.WriteFile(p, []byte(c.Data), 0o644); err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// writeEntry writes one planned entry under dir.
func writeEntry(dir string, p planned) error {
	to := filepath.Join(dir, p.dest)
	m := p.src.Mode()
	switch {
	case m.IsDir():
		if err := os.Mkdir(to, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(p.src.host)
		if err != nil {
			return err
		}
		os.Remove(to)
		if err := os.Symlink(target, to); err != nil {
			return err
		}
		return os.Lchown(to, p.uid, p.gid)
	case m.IsRegular():
		if err := copyRegular(p.src.host, to); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: cannot copy a %v: %w", p.dest, m.Type(), errdefs.ErrInvalid)
	}
	if err := os.Lchown(to, p.uid, p.gid); err != nil {
		return err
	}
	if err := os.Chmod(to, p.mode); err != nil {
		return err
	}
	mt := p.src.ModTime()
	return os.Chtimes(to, mt, mt)
}

func copyRegular(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mkdirAll makes p's directories in the layer dir, each with the mode,
// owner and mtime the stage gives it (so the layer changes nothing above
// what it adds), or 0755 root for one the stage lacks.
func mkdirAll(stageFS srcFS, dir, p string, clamp *time.Time) error {
	cur := "/"
	for _, part := range strings.Split(strings.Trim(path.Clean(p), "/"), "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		host := filepath.Join(dir, cur)
		if fi, err := os.Lstat(host); err == nil && fi.IsDir() {
			continue
		}
		mode, uid, gid, mt := fs.FileMode(0o755), 0, 0, time.Unix(0, 0)
		if clamp != nil {
			mt = *clamp
		}
		if e, err := stageFS.lstat(cur); err == nil && e.IsDir() {
			st := e.Sys().(*syscall.Stat_t)
			mode, uid, gid, mt = e.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid), int(st.Uid), int(st.Gid), e.ModTime()
		}
		if err := os.Mkdir(host, 0o700); err != nil {
			return err
		}
		if err := os.Lchown(host, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(host, mode); err != nil {
			return err
		}
		if err := os.Chtimes(host, mt, mt); err != nil {
			return err
		}
	}
	return nil
}

// isTar tells a local file ADD unpacks: a tar, plain or gzip.
func isTar(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := tarReader(f)
	if err != nil {
		return false
	}
	_, err = r.Next()
	return err == nil
}

func tarReader(f io.Reader) (*tar.Reader, error) {
	br := bufio.NewReader(f)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return tar.NewReader(gz), nil
	}
	return tar.NewReader(br), nil
}

// extractTar unpacks a local tar into dest, every name resolved inside it.
func extractTar(src, dest string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	tr, err := tarReader(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := extractEntry(tr, h, dest); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
}

func extractEntry(tr *tar.Reader, h *tar.Header, dest string) error {
	dir, base := path.Split(path.Clean("/" + h.Name))
	if base == "" || base == "/" {
		return nil
	}
	parent, err := securejoin.SecureJoin(dest, dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	to := filepath.Join(parent, base)
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(to, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case tar.TypeReg:
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		os.Remove(to)
		return os.Symlink(h.Linkname, to)
	default:
		return nil // devices, links: not what an ADD of a local archive carries here
	}
	if err := os.Lchown(to, h.Uid, h.Gid); err != nil {
		return err
	}
	if err := os.Chmod(to, fs.FileMode(h.Mode).Perm()); err != nil {
		return err
	}
	return os.Chtimes(to, h.ModTime, h.ModTime)
}

// owner resolves --chown=user[:group] with the stage's /etc/passwd and
// /etc/group; numbers need no lookup. Default root.
func (b *builder) owner(st *stage, chown string) (int, int, error) {
	if chown == "" {
		return 0, 0, nil
	}
	user, group, hasGroup := strings.Cut(chown, ":")
	uid, ugid, err := lookupID(b.stageFS(st), "/etc/passwd", user)
	if err != nil {
		return 0, 0, err
	}
	if !hasGroup {
		return uid, ugid, nil
	}
	gid, _, err := lookupID(b.stageFS(st), "/etc/group", group)
	return uid, gid, err
}

// lookupID finds name's ID (and, in passwd, its group) in a colon file.
func lookupID(src srcFS, file, name string) (int, int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, n, nil
	}
	e, err := src.lstat(file)
	if err != nil {
		return 0, 0, fmt.Errorf("--chown=%s: no %s to look it up in: %w", name, file, errdefs.ErrInvalid)
	}
	data, err := os.ReadFile(e.host)
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 3 && f[0] == name {
			id, err := strconv.Atoi(f[2])
			gid := id
			if len(f) >= 4 {
				if g, err := strconv.Atoi(f[3]); err == nil && file == "/etc/passwd" {
					gid = g
				}
			}
			return id, gid, err
		}
	}
	return 0, 0, fmt.Errorf("--chown: no %q in %s: %w", name, file, errdefs.ErrInvalid)
}
