package sbom

import (
	"context"
	"fmt"
	"hash/maphash"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
)

// found is what one candidate file of one layer holds.
type found struct {
	path     string
	pkgs     []Package
	distro   *Distro
	licenses []string // a Debian copyright file's licenses
	owned    []string // paths a package database says its packages own
}

// at returns a copy of f found at another path (a hard link).
func (f *found) at(p string) *found {
	g := &found{path: p, distro: f.distro, licenses: f.licenses, owned: f.owned, pkgs: append([]Package(nil), f.pkgs...)}
	for i := range g.pkgs {
		g.pkgs[i].Path = p
	}
	return g
}

func splitPath(rel string) (dir, base string) { return path.Split(rel) }

// layerScan is everything the merge needs to know about one layer: the
// candidate files it holds, and what it hides of the layers below.
type layerScan struct {
	index     int
	diffID    digest.Digest
	found     map[string]*found   // by clean relative path
	whiteouts map[string]struct{} // paths deleted from lower layers
	opaques   map[string]struct{} // directories whose lower contents are hidden
	nondirs   map[uint64]struct{} // hashes of every non-directory path in the layer
	warnings  []Warning
}

var pathSeed = maphash.MakeSeed()

func hashPath(p string) uint64 { return maphash.String(pathSeed, p) }

func newLayerScan(index int, diffID digest.Digest) *layerScan {
	return &layerScan{
		index:     index,
		diffID:    diffID,
		found:     map[string]*found{},
		whiteouts: map[string]struct{}{},
		opaques:   map[string]struct{}{},
		nondirs:   map[uint64]struct{}{},
	}
}

func (ls *layerScan) warn(p string, err error) {
	ls.warnings = append(ls.warnings, Warning{Path: p, Layer: ls.index, Err: err.Error()})
}

// whiteout records a ".wh." entry named base in directory dir; it reports
// false for names that are not whiteouts.
func (ls *layerScan) whiteout(dir, base string) bool {
	if !strings.HasPrefix(base, ".wh.") {
		return false
	}
	switch {
	case base == ".wh..wh..opq":
		ls.opaques[strings.TrimSuffix(dir, "/")] = struct{}{}
	case strings.HasPrefix(base, ".wh..wh."):
		// aufs bookkeeping (.wh..wh.plnk and the like): no meaning here
	default:
		ls.whiteouts[dir+base[len(".wh."):]] = struct{}{}
	}
	return true
}

// cleanName turns a tar entry name into a clean path relative to the root,
// "" for the root itself.
func cleanName(name string) string {
	p := path.Clean("/" + name)
	if p == "/" {
		return ""
	}
	return p[1:]
}

// record runs the parser for a candidate file and keeps its result. A file
// that cannot be parsed is still recorded, with no packages, because it still
// replaces whatever the lower layers had at that path.
func (s *scanner) record(ctx context.Context, ls *layerScan, rel string, k kind, c *content) {
	f, err := s.parse(ctx, ls, k, c)
	if err != nil {
		ls.warn(c.path, err)
		if k == kindExec {
			return
		}
		f = &found{}
	}
	if f == nil {
		return
	}
	f.path = c.path
	for i := range f.pkgs {
		if f.pkgs[i].Path == "" {
			f.pkgs[i].Path = c.path
		}
	}
	ls.found[rel] = f
}

// parse dispatches a candidate to its parser. It returns nil, nil for a file
// that turned out to hold no packages (an executable that is not Go or Rust).
func (s *scanner) parse(ctx context.Context, ls *layerScan, k kind, c *content) (*found, error) {
	var pkgs []Package
	var err error
	switch k {
	case kindOSRelease:
		b, err := c.bytes()
		if err != nil {
			return nil, err
		}
		d := parseOSRelease(b)
		return &found{distro: d}, nil
	case kindDebCopyright:
		b, err := c.bytes()
		if err != nil {
			return nil, err
		}
		return &found{licenses: parseDebCopyright(b)}, nil
	case kindDpkgFiles:
		b, err := c.bytes()
		if err != nil {
			return nil, err
		}
		return &found{owned: parseDpkgFiles(b)}, nil
	case kindDpkgStatus:
		b, err := c.bytes()
		if err != nil {
			return nil, err
		}
		pkgs, err = parseDpkgStatus(b)
		if err != nil {
			return nil, err
		}
	case kindApk:
		b, err := c.bytes()
		if err != nil {
			return nil, err
		}
		var owned []string
		pkgs, owned, err = parseApkInstalled(b)
		if err != nil {
			return nil, err
		}
		return &found{pkgs: pkgs, owned: owned}, nil
	case kindRpmDB:
		pkgs, err = s.parseRpmDB(c)
	case kindPython:
		b, err := c.bytes()
		if err != nil {
			return nil, err
		}
		var p *Package
		p, err = parsePythonMetadata(b)
		if err != nil {
			return nil, err
		}
		if p != nil {
			pkgs = []Package{*p}
		}
	case kindNode:
		b, err := c.bytes()
		if err != nil {
			return nil, err
		}
		var p *Package
		p, err = parsePackageJSON(b)
		if err != nil {
			return nil, err
		}
		if p != nil {
			pkgs = []Package{*p}
		}
	case kindJar:
		var nested []Warning
		pkgs, nested, err = parseJar(c.readerAt(), c.size, c.path)
		for _, w := range nested {
			w.Layer = ls.index
			ls.warnings = append(ls.warnings, w)
		}
	case kindExec:
		pkgs, err = parseBinary(c.readerAt(), c.size, path.Base(c.path))
		if err == nil && pkgs == nil {
			return nil, nil
		}
	default:
		return nil, fmt.Errorf("no parser for kind %d", k)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &found{pkgs: pkgs}, nil
}
