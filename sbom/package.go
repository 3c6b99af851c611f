package sbom

import (
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Type is the kind of a package, spelled as its package-url type.
type Type string

// The package types the inventory reports.
const (
	TypeDeb    Type = "deb"
	TypeAPK    Type = "apk"
	TypeRPM    Type = "rpm"
	TypeGo     Type = "golang"
	TypePython Type = "pypi"
	TypeNPM    Type = "npm"
	TypeMaven  Type = "maven"
	TypeCargo  Type = "cargo"
)

// GoStdlib is the name of the package standing for the Go standard library
// linked into a Go binary; its version is the toolchain's ("go1.22.4"), as
// the Go vulnerability database names it.
const GoStdlib = "stdlib"

// LayerRef names the layer a package came from.
type LayerRef struct {
	Index  int           `json:"index"` // 0 is the lowest layer
	DiffID digest.Digest `json:"diffID"`
}

// Package is one installed package or library.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Type    Type   `json:"type"`
	PURL    string `json:"purl"`
	// Licenses as the package records them (SPDX expressions or free text).
	Licenses []string `json:"licenses,omitempty"`
	Arch     string   `json:"arch,omitempty"`
	// Source is the source package this binary package was built from, where
	// the database says (dpkg Source:, apk origin, rpm SOURCERPM name).
	Source string `json:"source,omitempty"`
	// SourceVersion is the source package's version where it differs from
	// Version (a dpkg binNMU, an rpm's source rpm).
	SourceVersion string `json:"sourceVersion,omitempty"`
	// Path is the file the package was found in: its database, manifest or binary.
	Path  string   `json:"path"`
	Layer LayerRef `json:"layer"`
}

// key identifies a package within one file, for attribution across layers.
func (p *Package) key() string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s", p.Type, p.Name, p.Version, p.Arch)
}

// Distro is the operating system release an image is based on, from
// /etc/os-release.
type Distro struct {
	ID              string   `json:"id"`                        // "debian", "alpine"
	VersionID       string   `json:"versionID,omitempty"`       // "12", "3.19.1"
	VersionCodename string   `json:"versionCodename,omitempty"` // "bookworm"
	PrettyName      string   `json:"prettyName,omitempty"`
	IDLike          []string `json:"idLike,omitempty"`
}

// Warning is a file that could not be read; the inventory went on without it.
type Warning struct {
	Path  string `json:"path"`
	Layer int    `json:"layer"`
	Err   string `json:"error"`
}

func (w Warning) String() string {
	return fmt.Sprintf("%s (layer %d): %s", w.Path, w.Layer, w.Err)
}

// SBOM is the inventory of one image.
type SBOM struct {
	Layers   []digest.Digest `json:"layers"` // diffIDs, lowest first
	Distro   *Distro         `json:"distro,omitempty"`
	Packages []Package       `json:"packages"`
	Warnings []Warning       `json:"warnings,omitempty"`
}
