package build

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"

	"github.com/berth-dev/berth/errdefs"
)

// copyOp is a COPY or an ADD.
type copyOp struct {
	add      bool
	srcs     []string
	contents []instructions.SourceContent
	dest     string
	from     string
	chown    string
	chmod    string
	exclude  []string
	flags    string // as the history row and the cache key show them
}

func copyFromCopy(c *instructions.CopyCommand) copyOp {
	op := copyOp{srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath, from: c.From,
		chown: c.Chown, chmod: c.Chmod, exclude: c.ExcludePatterns}
	op.flags = flagText("from", c.From) + flagText("chown", c.Chown) + flagText("chmod", c.Chmod)
	return op
}

func copyFromAdd(c *instructions.AddCommand) copyOp {
	op := copyOp{add: true, srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		chown: c.Chown, chmod: c.Chmod, exclude: c.ExcludePatterns}
	op.flags = flagText("chown", c.Chown) + flagText("chmod", c.Chmod)
	return op
}

func flagText(name, v string) string {
	if v == "" {
		return ""
	}
	return "--" + name + "=" + v + " "
}

// planned is one entry COPY writes: where from, where to, as whom.
type planned struct {
	src      entry
	dest     string // absolute in the image
	uid, gid int
	mode     fs.FileMode // permission bits to set
	extract  bool        // ADD of a local tar: unpack it into dest
}

// copy runs a COPY or ADD: it plans the entries, keys the step on their
// content and metadata, and writes them into a fresh layer on a miss.
func (b *builder) copy(ctx context.Context, st *stage, op copyOp) error {
	src, err := b.copySource(ctx, st, op.from)
	if err != nil {
		return err
	}
	dest := b.copyDest(st, op.dest)
	// Files from the context are root's; from a stage or an image they
	// keep their owner, unless --chown says otherwise (as BuildKit).
	uid, gid, err := b.owner(st, op.chown)
	if op.chown == "" && op.from != "" {
		uid, gid = -1, -1
	}
	if err != nil {
		return err
	}
	var chmod fs.FileMode
	if op.chmod != "" {
		m, err := strconv.ParseUint(op.chmod, 8, 32)
		if err != nil {
			return fmt.Errorf("--chmod=%s: not an octal mode: %w", op.chmod, errdefs.ErrInvalid)
		}
		chmod = fs.FileMode(m) | fs.ModeSetuid // ModeSetuid marks "set" even for 0
	}
	// An unquoted heredoc's body is expanded, as BuildKit does.
	op.contents = append([]instructions.SourceContent(nil), op.contents...)
	for i, c := range op.contents {
		if c.Expand {
			if op.contents[i].Data, _, err = b.lex.ProcessWord(c.Data, st.env()); err != nil {
				return err
			}
		}
	}
	plan, err := planCopy(src, op, dest, uid, gid, chmod)
	if err != nil {
		return err
	}
	name := "COPY "
	if op.add {
		name = "ADD "
	}
	words := append([]string(nil), op.srcs...)
	for _, c := range op.contents {
		words = append(words, "<<"+c.Path)
	}
	createdBy := name + op.flags + strings.Join(append(words, op.dest), " ") + " # berth"
	h, err := hashPlan(plan, op.contents, b.sums)
	if err != nil {
		return err
	}
	st.key = stepKey(st, createdBy, h)
	return b.layerStep(ctx, st, createdBy, func(dir string) error {
		return writePlan(ctx, b.stageFS(st), dir, dest, plan, op, uid, gid, b.clamp())
	})
}

// copyDest is where a COPY writes, absolute, ending in "/" when it names
// a directory: written so (".", "dir/"), or one the stage has.
func (b *builder) copyDest(st *stage, dest string) string {
	dir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		dest = path.Join("/", st.cc().WorkingDir, dest)
	}
	dest = path.Clean(dest)
	if e, err := b.stageFS(st).lstat(dest); err == nil && e.IsDir() {
		dir = true
	}
	if dir && dest != "/" {
		dest += "/"
	}
	return dest
}

// copySource is the tree a COPY reads: the context, a stage or an image.
func (b *builder) copySource(ctx context.Context, st *stage, from string) (srcFS, error) {
	if from == "" {
		if b.ctxFS == nil {
			return nil, fmt.Errorf("no build context to copy from: %w", errdefs.ErrInvalid)
		}
		return b.ctxFS, nil
	}
	for i, s := range b.stages {
		if s != nil && s != st && (strings.EqualFold(b.f.stages[i].Name, from) || strconv.Itoa(i) == from) {
			return b.stageFS(s), nil
		}
	}
	img, err := b.sess.Base(ctx, from, false)
	if err != nil {
		return nil, err
	}
	return layersOf(b.sess, img.Layers), nil
}

// planCopy lists what a COPY writes, in a fixed order.
func planCopy(src srcFS, op copyOp, dest string, uid, gid int, chmod fs.FileMode) ([]planned, error) {
	var matches []string
	for _, s := range op.srcs {
		if strings.Contains(s, "://") || strings.HasPrefix(s, "git@") {
			return nil, fmt.Errorf("ADD %s: remote sources are not supported yet: %w", s, errdefs.ErrInvalid)
		}
		m, err := glob(src, path.Clean("/"+s))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: no such file or directory: %w", s, errdefs.ErrNotFound)
		}
		matches = append(matches, m...)
	}
	excl, err := patternmatcher.New(op.exclude)
	if err != nil {
		return nil, err
	}
	toDir := strings.HasSuffix(dest, "/") || len(matches)+len(op.contents) > 1
	var plan []planned
	add := func(e entry, to string) {
		mode := e.Mode().Perm() | e.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		if chmod != 0 {
			mode = chmod.Perm()
		}
		p := planned{src: e, dest: to, uid: uid, gid: gid, mode: mode, extract: op.add && e.Mode().IsRegular() && isTar(e.host)}
		if uid < 0 {
			st := e.Sys().(*syscall.Stat_t)
			p.uid, p.gid = int(st.Uid), int(st.Gid)
		}
		plan = append(plan, p)
	}
	for _, m := range matches {
		e, err := src.lstat(m)
		if err != nil {
			return nil, err
		}
		if !e.IsDir() {
			to := dest
			if toDir && !(op.add && e.Mode().IsRegular() && isTar(e.host)) {
				to = path.Join(dest, path.Base(m))
			}
			add(e, path.Clean(to))
			continue
		}
		if err := walkSrc(src, m, "", func(rel string, e entry) {
			if ok, _ := excl.MatchesOrParentMatches(rel); !ok || len(op.exclude) == 0 {
				add(e, path.Join(dest, rel))
			}
		}); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// walkSrc calls fn for everything under root, parents first, sorted.
func walkSrc(src srcFS, root, rel string, fn func(rel string, e entry)) error {
	names, err := src.readDir(path.Join(root, rel))
	if err != nil {
		return err
	}
	for _, n := range names {
		r := path.Join(rel, n)
		e, err := src.lstat(path.Join(root, r))
		if err != nil {
			return err
		}
		fn(r, e)
		if e.IsDir() {
			if err := walkSrc(src, root, r, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// glob expands a pattern one component at a time, as BuildKit does.
func glob(src srcFS, pattern string) ([]string, error) {
	if !strings.ContainsAny(pattern, "*?[\\") {
		if _, err := src.lstat(pattern); err != nil {
			return nil, nil
		}
		return []string{pattern}, nil
	}
	out := []string{"/"}
	for _, part := range strings.Split(strings.Trim(pattern, "/"), "/") {
		var next []string
		for _, dir := range out {
			names, _ := src.readDir(dir)
			for _, n := range names {
				if ok, err := path.Match(part, n); err != nil {
					return nil, fmt.Errorf("%s: %w: %w", pattern, err, errdefs.ErrInvalid)
				} else if ok {
					next = append(next, path.Join(dir, n))
				}
			}
		}
		out = next
	}
	return out, nil
}

// hashPlan hashes what the entries will be: path, type, mode, owner, link
// target and content, never mtimes.
func hashPlan(plan []planned, contents []instructions.SourceContent, sums *fileSums) (string, error) {
	h := sha256.New()
	for _, p := range plan {
		fmt.Fprintf(h, "%s\x00%v\x00%o\x00%d:%d\x00%t\x00", p.dest, p.src.Mode().Type(), p.mode, p.uid, p.gid, p.extract)
		switch {
		case p.src.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p.src.host)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s\x00", target)
		case p.src.Mode().IsRegular():
			sum, err := sums.sum(p.src)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s\x00", sum)
		}
	}
	for _, c := range contents {
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00", c.Path, len(c.Data), c.Data)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
