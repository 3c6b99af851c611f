package sbom

import (
	"bytes"
	"compress/zlib"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// parseBinary looks into an ELF executable for the two kinds of build
// metadata the inventory knows: Go's buildinfo and cargo-auditable's
// .dep-v0 section; failing both, it tries the classifiers for programs
// that carry their version as a string. It returns nil, nil otherwise.
func parseBinary(r io.ReaderAt, size int64, base string) ([]Package, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, nil // not an ELF file berth can read: not a package
	}
	defer f.Close()
	if s := f.Section(".dep-v0"); s != nil {
		pkgs, err := parseCargoAuditable(s.Open())
		if err != nil {
			return nil, fmt.Errorf("cargo-auditable dependency list: %w", err)
		}
		return pkgs, nil
	}
	if f.Section(".go.buildinfo") == nil {
		if p := classifyBinary(r, size, base); p != nil {
			return []Package{*p}, nil
		}
		return nil, nil
	}
	bi, err := buildinfo.Read(r)
	if err != nil {
		return nil, fmt.Errorf("go build info: %w", err)
	}
	return GoPackages(bi), nil
}

// GoPackages lists a Go binary's main module, its dependencies as they were
// built (a replacement stands in for what it replaces) and the standard
// library at the toolchain's version.
func GoPackages(bi *buildinfo.BuildInfo) []Package {
	var out []Package
	switch {
	case bi.Main.Path != "":
		out = append(out, Package{Name: bi.Main.Path, Version: bi.Main.Version, Type: TypeGo})
	case bi.Path != "":
		// built outside module mode (as Debian builds its Go packages): the
		// main package's path is all there is to name the program by
		out = append(out, Package{Name: bi.Path, Version: "(devel)", Type: TypeGo})
	}
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		out = append(out, Package{Name: m.Path, Version: m.Version, Type: TypeGo})
	}
	if v, _, _ := strings.Cut(bi.GoVersion, " "); v != "" {
		out = append(out, Package{Name: GoStdlib, Version: v, Type: TypeGo})
	}
	return out
}

// parseCargoAuditable reads the zlib-compressed JSON dependency list that
// cargo-auditable embeds (format 0/1: {"packages":[{name,version,source,...}]}).
func parseCargoAuditable(r io.Reader) ([]Package, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	b, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, err
	}
	var v struct {
		Packages []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Source  string `json:"source"`
		} `json:"packages"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var out []Package
	for _, p := range v.Packages {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("package without name or version")
		}
		out = append(out, Package{Name: p.Name, Version: p.Version, Type: TypeCargo})
	}
	return out, nil
}
