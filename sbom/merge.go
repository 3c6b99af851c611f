package sbom

import (
	"cmp"
	"path"
	"slices"
	"strings"
)

// merge stacks the layer scans as overlayfs stacks the layers and attributes
// each package still visible at the top to the layer that added it.
func merge(scans []*layerScan) *SBOM {
	out := &SBOM{Packages: []Package{}}
	paths := map[string]bool{}
	for _, ls := range scans {
		out.Layers = append(out.Layers, ls.diffID)
		out.Warnings = append(out.Warnings, ls.warnings...)
		for p := range ls.found {
			paths[p] = true
		}
	}
	var osRelease, usrOSRelease *found
	debLicenses := map[string][]string{}
	owned := map[string]bool{}
	for p := range paths {
		chain := visibleChain(scans, p)
		if len(chain) == 0 {
			continue
		}
		top := chain[len(chain)-1]
		switch p {
		case "etc/os-release":
			osRelease = top.f
			continue
		case "usr/lib/os-release":
			usrOSRelease = top.f
			continue
		}
		for _, o := range top.f.owned {
			owned[o] = true
			// merged-/usr systems: dpkg lists /bin/sh, the file is /usr/bin/sh
			if first, _, _ := strings.Cut(o[1:], "/"); first == "bin" || first == "sbin" || strings.HasPrefix(first, "lib") {
				owned["/usr"+o] = true
			}
		}
		if top.f.owned != nil && top.f.pkgs == nil {
			continue
		}
		if top.f.licenses != nil {
			debLicenses[path.Base(path.Dir(p))] = top.f.licenses
			continue
		}
		out.Packages = append(out.Packages, attribute(chain, scans)...)
	}
	// /etc/os-release is usually a symlink to ../usr/lib/os-release
	if osRelease != nil && osRelease.distro != nil {
		out.Distro = osRelease.distro
	} else if usrOSRelease != nil {
		out.Distro = usrOSRelease.distro
	}
	// a program a package database owns is reported as that package already
	out.Packages = slices.DeleteFunc(out.Packages, func(p Package) bool { return p.Type == TypeBinary && owned[p.Path] })
	for i := range out.Packages {
		p := &out.Packages[i]
		if p.Type == TypeDeb && len(p.Licenses) == 0 {
			p.Licenses = debLicenses[p.Name]
		}
		out.Packages[i].PURL = purlFor(&out.Packages[i], out.Distro)
	}
	slices.SortFunc(out.Packages, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Type, b.Type), cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Path, b.Path))
	})
	return out
}

type link struct {
	layer int
	f     *found
}

// visibleChain returns the versions of the file at p that the top of the
// stack sees, oldest first: every version written since the last time a
// layer deleted or replaced the path. It is empty when the file is gone.
func visibleChain(scans []*layerScan, p string) []link {
	var chain []link
	h := hashPath(p)
	for _, ls := range scans {
		if len(chain) > 0 && hides(ls, p) {
			chain = chain[:0]
		}
		if f, ok := ls.found[p]; ok {
			chain = append(chain, link{ls.index, f})
		} else if _, ok := ls.nondirs[h]; ok {
			chain = chain[:0] // replaced by something that holds no packages
		}
	}
	return chain
}

// hides reports whether layer ls hides what the layers below hold at p: a
// whiteout of p or of a parent, an opaque parent, or a parent replaced by a
// file or symlink.
func hides(ls *layerScan, p string) bool {
	if _, ok := ls.whiteouts[p]; ok {
		return true
	}
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := ls.whiteouts[d]; ok {
			return true
		}
		if _, ok := ls.opaques[d]; ok {
			return true
		}
		if _, ok := ls.nondirs[hashPath(d)]; ok {
			return true
		}
	}
	return false
}

// attribute returns the packages of the chain's last version, each with the
// lowest layer from which it has been present in every version since.
func attribute(chain []link, scans []*layerScan) []Package {
	since := map[string]int{}
	for _, l := range chain {
		next := make(map[string]int, len(l.f.pkgs))
		for i := range l.f.pkgs {
			k := l.f.pkgs[i].key()
			if first, ok := since[k]; ok {
				next[k] = first
			} else {
				next[k] = l.layer
			}
		}
		since = next
	}
	top := chain[len(chain)-1].f.pkgs
	out := make([]Package, len(top))
	for i, p := range top {
		layer := since[p.key()]
		p.Layer = LayerRef{Index: layer, DiffID: scans[layer].diffID}
		out[i] = p
	}
	return out
}
