package image

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
)

const (
	// DefaultHub is the registry a name without one refers to, as docker.io is
	// for Docker. It can be changed per call (configuration, --hub, BERTH_HUB).
	DefaultHub = "localhost:5000"
	// DefaultTag is the tag a name without tag or digest refers to.
	DefaultTag = "latest"
	// OfficialNamespace holds the official images: "welcome" means "library/welcome".
	OfficialNamespace = "library"

	dockerHub       = "docker.io"
	legacyDockerHub = "index.docker.io"
)

// Reference names an image: the hub it lives on, its repository path there,
// and a tag, a digest, or both. The zero Tag and Digest mean "not given".
type Reference struct {
	Hub    string // registry host[:port], "localhost:5000"
	Path   string // repository path on the hub, "library/welcome"
	Tag    string
	Digest digest.Digest
}

var hex64 = regexp.MustCompile(`^[a-f0-9]{64}$`)

// ParseReference parses a name as the user typed it, resolving a missing hub to
// defaultHub and a one-component path on defaultHub (or docker.io) to
// library/NAME. It does not add the default tag: see WithDefaultTag.
//
// distribution/reference does the grammar; it only knows docker.io as the hub
// that gets "library/", which is why berth wraps it.
func ParseReference(s, defaultHub string) (Reference, error) {
	if defaultHub == "" {
		defaultHub = DefaultHub
	}
	if s == "" {
		return Reference{}, fmt.Errorf("invalid reference format: empty name: %w", errdefs.ErrInvalid)
	}
	if hex64.MatchString(s) {
		return Reference{}, fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings: %w", s, errdefs.ErrInvalid)
	}
	hub, rest := splitHub(s, defaultHub)
	repo := rest
	if i := strings.IndexAny(repo, ":@"); i >= 0 {
		repo = repo[:i]
	}
	if strings.ToLower(repo) != repo {
		return Reference{}, fmt.Errorf("invalid reference format: repository name (%s) must be lowercase: %w", repo, errdefs.ErrInvalid)
	}
	if hub == legacyDockerHub {
		hub = dockerHub
	}
	if (hub == defaultHub || hub == dockerHub) && repo != "" && !strings.Contains(repo, "/") {
		rest = OfficialNamespace + "/" + rest
	}
	parsed, err := reference.Parse(hub + "/" + rest)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid reference format %q: %s: %w", s, describe(err, rest), errdefs.ErrInvalid)
	}
	named, ok := parsed.(reference.Named)
	if !ok {
		return Reference{}, fmt.Errorf("invalid reference format %q: no repository name: %w", s, errdefs.ErrInvalid)
	}
	r := Reference{Hub: reference.Domain(named), Path: reference.Path(named)}
	if t, ok := parsed.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := parsed.(reference.Digested); ok {
		r.Digest = d.Digest()
	}
	return r, nil
}

// splitHub splits "host:port/a/b" into the hub and the rest, the way Docker
// decides whether a first component is a host: it has a dot or a colon, is
// "localhost", or has an uppercase letter (which the grammar then rejects).
func splitHub(s, defaultHub string) (hub, rest string) {
	i := strings.IndexRune(s, '/')
	if i == -1 {
		return defaultHub, s
	}
	first := s[:i]
	if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
		return first, s[i+1:]
	}
	return defaultHub, s
}

// describe turns distribution/reference's errors into a phrase for people.
func describe(err error, rest string) string {
	nameTag, _, _ := strings.Cut(rest, "@")
	if i := strings.LastIndex(nameTag, ":"); i >= 0 && i > strings.LastIndex(nameTag, "/") && !tagRegexp.MatchString(nameTag[i+1:]) {
		return "invalid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')"
	}
	switch {
	case errors.Is(err, reference.ErrNameContainsUppercase):
		return "repository name must be lowercase"
	case errors.Is(err, reference.ErrNameTooLong):
		return err.Error()
	case errors.Is(err, reference.ErrTagInvalidFormat):
		return "invalid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')"
	case errors.Is(err, reference.ErrDigestInvalidFormat):
		return "invalid digest"
	case errors.Is(err, reference.ErrNameEmpty):
		return "repository name must have at least one component"
	default:
		if strings.Contains(err.Error(), "digest") || strings.Contains(err.Error(), "algorithm") {
			return "invalid digest: " + err.Error()
		}
		return "names are lowercase letters, digits and separators (. _ __ -), path components joined by /"
	}
}

// WithDefaultTag returns r with the default tag if it has neither tag nor digest.
func (r Reference) WithDefaultTag() Reference {
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r
}

// Name is the repository's full name: "localhost:5000/library/welcome".
func (r Reference) Name() string { return r.Hub + "/" + r.Path }

// String is the full reference: name, then ":tag", then "@digest" where present.
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// FamiliarName is the name as Docker shows docker.io names: without the hub
// when it is defaultHub, and without "library/" for official images.
func (r Reference) FamiliarName(defaultHub string) string {
	if defaultHub == "" {
		defaultHub = DefaultHub
	}
	if r.Hub != defaultHub {
		return r.Name()
	}
	if rest, ok := strings.CutPrefix(r.Path, OfficialNamespace+"/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return r.Path
}

// FamiliarString is String in the familiar form of FamiliarName.
func (r Reference) FamiliarString(defaultHub string) string {
	s := r.FamiliarName(defaultHub)
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// IsOfficial reports whether the repository is in the official namespace.
func (r Reference) IsOfficial() bool {
	rest, ok := strings.CutPrefix(r.Path, OfficialNamespace+"/")
	return ok && !strings.Contains(rest, "/")
}

// ValidateTag checks a bare tag, as `berth tag` and the hub need.
func ValidateTag(tag string) error {
	if !tagRegexp.MatchString(tag) {
		return fmt.Errorf("invalid tag format %q: %w", tag, errdefs.ErrInvalid)
	}
	return nil
}

var tagRegexp = regexp.MustCompile(`^` + reference.TagRegexp.String() + `$`)
