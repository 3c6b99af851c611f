package image

import (
	"fmt"
	"runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
)

// ParsePlatform parses "os[/arch[/variant]]" as --platform takes it.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	if s == "" || len(parts) > 3 {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]: %w", s, errdefs.ErrInvalid)
	}
	for _, p := range parts {
		if p == "" {
			return ocispec.Platform{}, fmt.Errorf("invalid platform %q: empty component: %w", s, errdefs.ErrInvalid)
		}
	}
	p := ocispec.Platform{OS: parts[0]}
	if len(parts) == 1 {
		p.Architecture = runtime.GOARCH
	} else {
		p.Architecture = parts[1]
	}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return NormalizePlatform(p), nil
}

// DefaultPlatform is this machine's platform, the one pulls select by default.
func DefaultPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// NormalizePlatform maps the aliases seen in the field to the OCI names.
func NormalizePlatform(p ocispec.Platform) ocispec.Platform {
	p.OS = strings.ToLower(p.OS)
	switch strings.ToLower(p.Architecture) {
	case "x86_64", "x86-64", "amd64":
		p.Architecture = "amd64"
		if p.Variant == "v1" {
			p.Variant = ""
		}
	case "aarch64", "arm64":
		p.Architecture = "arm64"
		if p.Variant == "8" || p.Variant == "v8" {
			p.Variant = ""
		}
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	case "arm":
		if p.Variant == "" || p.Variant == "7" {
			p.Variant = "v7"
		} else if len(p.Variant) == 1 {
			p.Variant = "v" + p.Variant
		}
	case "i386", "386":
		p.Architecture = "386"
	default:
		p.Architecture = strings.ToLower(p.Architecture)
	}
	return p
}

// FormatPlatform prints os/arch[/variant].
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// MatchPlatform reports whether have can run where want is asked for. An
// empty variant in want accepts any variant of the architecture.
func MatchPlatform(want, have ocispec.Platform) bool {
	want, have = NormalizePlatform(want), NormalizePlatform(have)
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	return want.Variant == "" || want.Variant == have.Variant
}

// SelectManifest picks the manifest of an index that runs on want,
// preferring an exact variant. Attestations (unknown/unknown) never match.
func SelectManifest(idx *ocispec.Index, want ocispec.Platform) (ocispec.Descriptor, error) {
	want = NormalizePlatform(want)
	var loose *ocispec.Descriptor
	for i, d := range idx.Manifests {
		if d.Platform == nil || !IsManifest(d.MediaType) && !IsIndex(d.MediaType) && d.MediaType != "" {
			continue
		}
		have := NormalizePlatform(*d.Platform)
		if have.OS != want.OS || have.Architecture != want.Architecture {
			continue
		}
		if have.Variant == want.Variant {
			return d, nil
		}
		if loose == nil && (want.Variant == "" || have.Variant == "") {
			loose = &idx.Manifests[i]
		}
	}
	if loose != nil {
		return *loose, nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("no matching manifest for %s in the manifest list entries: %w", FormatPlatform(want), errdefs.ErrNotFound)
}
