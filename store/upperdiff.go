package store

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"
)

// Change is one path a container changed, as `docker diff` prints it:
// Kind is 'A' (added), 'C' (changed) or 'D' (deleted).
type Change struct {
	Kind byte
	Path string
}

// UpperChanges lists what a container's upper directory changes over its
// lower layer directories (lowest first), sorted by path, leaving out the
// stubs the runtime made for its mounts (absolute paths), which are not
// the container's doing.
func UpperChanges(upper string, lowers, stubs []string) ([]Change, error) {
	skip := stubFilter(upper, lowers, stubs)
	var out []Change
	err := walkSorted(upper, "", func(rel string, fi fs.FileInfo) error {
		p := "/" + rel
		if skip(rel) {
			return filepath.SkipDir
		}
		switch {
		case fi.Mode()&fs.ModeCharDevice != 0 && fi.Sys().(*syscall.Stat_t).Rdev == 0:
			out = append(out, Change{'D', p})
		case inLowers(lowers, rel):
			out = append(out, Change{'C', p})
		default:
			out = append(out, Change{'A', p})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// stubFilter tells the runtime's stubs in upper: an empty file or
// directory at a stub's path the lowers lack, and a directory above one
// that holds nothing else.
func stubFilter(upper string, lowers, runtimeStubs []string) func(rel string) bool {
	stubs := map[string]bool{}
	for _, p := range runtimeStubs {
		rel := strings.TrimPrefix(p, "/")
		fi, err := os.Lstat(filepath.Join(upper, rel))
		if err != nil || inLowers(lowers, rel) || (fi.Mode().IsRegular() && fi.Size() > 0) {
			continue
		}
		if fi.IsDir() {
			if names, _ := readNames(filepath.Join(upper, rel)); len(names) > 0 {
				continue
			}
		}
		stubs[rel] = true
	}
	return func(rel string) bool {
		if stubs[rel] {
			return true
		}
		names, err := readNames(filepath.Join(upper, rel))
		if err != nil || len(names) == 0 {
			return false
		}
		for _, n := range names { // a directory that only holds stubs
			if !stubs[filepath.Join(rel, n)] {
				return false
			}
		}
		return true
	}
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// inLowers tells whether rel shows in the merged lower layers.
func inLowers(lowers []string, rel string) bool {
	parts := strings.Split(rel, "/")
	for i := len(lowers) - 1; i >= 0; i-- {
		_, found, hidden := lookupIn(lowers[i], parts)
		if found {
			return true
		}
		if hidden {
			return false
		}
	}
	return false
}

// CommitUpper makes a new layer on top of parent from a copy of a
// container's upper directory (the container may still be running, so it
// cannot be taken as it is), the runtime's stubs and overlay's own xattrs
// left out.
func (s *Store) CommitUpper(ctx context.Context, upper string, lowers, stubs []string, parent digest.Digest) (LayerInfo, error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := writeDirTarFiltered(ctx, pw, upper, nil, stubFilter(upper, lowers, stubs))
		pw.CloseWithError(err)
	}()
	res, err := s.Unpack(ctx, pr, Unpack{Parent: parent, Size: -1, BlobIfLossy: true})
	pr.Close()
	if err != nil {
		return LayerInfo{}, fmt.Errorf("committing %s: %w", upper, err)
	}
	return res.Layer, nil
}
