package image

import (
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
)

// MaxManifestSize bounds a manifest or index read into memory, as registries
// bound it (distribution and containerd use 4 MiB).
const MaxManifestSize = 4 << 20

// Parsed is a manifest or an index, as its media type says.
type Parsed struct {
	MediaType string
	Manifest  *ocispec.Manifest // set for image manifests
	Index     *ocispec.Index    // set for indexes and manifest lists
}

// Children are the descriptors a registry must hold before accepting the
// manifest: the config and layers of an image, the manifests of an index.
// The subject is not among them: a referrer may arrive before its subject.
func (p Parsed) Children() []ocispec.Descriptor {
	if p.Index != nil {
		return p.Index.Manifests
	}
	if p.Manifest == nil {
		return nil
	}
	return append([]ocispec.Descriptor{p.Manifest.Config}, p.Manifest.Layers...)
}

// Subject is the manifest this one refers to (OCI referrers), or nil.
func (p Parsed) Subject() *ocispec.Descriptor {
	if p.Index != nil {
		return p.Index.Subject
	}
	if p.Manifest != nil {
		return p.Manifest.Subject
	}
	return nil
}

// probe holds the fields that tell manifest kinds apart.
type probe struct {
	SchemaVersion *int             `json:"schemaVersion"`
	MediaType     string           `json:"mediaType"`
	Config        *json.RawMessage `json:"config"`
	Layers        *json.RawMessage `json:"layers"`
	Manifests     *json.RawMessage `json:"manifests"`
	FSLayers      *json.RawMessage `json:"fsLayers"`
}

// ParseManifest parses a manifest or index. declared is the media type the
// sender gave (a Content-Type header, a descriptor's mediaType), or "" to
// detect it from the body. A body whose own mediaType disagrees with a
// declared manifest type is refused, as the OCI spec requires.
func ParseManifest(declared string, data []byte) (Parsed, error) {
	if len(data) > MaxManifestSize {
		return Parsed{}, fmt.Errorf("manifest is %d bytes, more than the %d allowed: %w", len(data), MaxManifestSize, errdefs.ErrInvalid)
	}
	if declared == MediaTypeDockerSchema1 || declared == MediaTypeDockerSchema1JWS {
		return Parsed{}, errSchema1
	}
	var p probe
	if err := json.Unmarshal(data, &p); err != nil {
		return Parsed{}, fmt.Errorf("manifest is not valid JSON: %v: %w", err, errdefs.ErrInvalid)
	}
	if p.MediaType == MediaTypeDockerSchema1 || p.MediaType == MediaTypeDockerSchema1JWS || p.FSLayers != nil ||
		(p.SchemaVersion != nil && *p.SchemaVersion == 1) {
		return Parsed{}, errSchema1
	}
	if p.SchemaVersion == nil || *p.SchemaVersion != 2 {
		return Parsed{}, fmt.Errorf("manifest schemaVersion must be 2: %w", errdefs.ErrInvalid)
	}
	mt, err := manifestType(declared, p)
	if err != nil {
		return Parsed{}, err
	}
	if IsIndex(mt) {
		var idx ocispec.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			return Parsed{}, fmt.Errorf("index: %v: %w", err, errdefs.ErrInvalid)
		}
		if idx.Manifests == nil && p.Manifests == nil {
			return Parsed{}, fmt.Errorf("index has no manifests field: %w", errdefs.ErrInvalid)
		}
		for i, d := range idx.Manifests {
			if err := ValidateDescriptor(d); err != nil {
				return Parsed{}, fmt.Errorf("index manifests[%d]: %w", i, err)
			}
		}
		if err := validateSubject(idx.Subject); err != nil {
			return Parsed{}, err
		}
		return Parsed{MediaType: mt, Index: &idx}, nil
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Parsed{}, fmt.Errorf("manifest: %v: %w", err, errdefs.ErrInvalid)
	}
	if p.Config == nil {
		return Parsed{}, fmt.Errorf("manifest has no config: %w", errdefs.ErrInvalid)
	}
	if err := ValidateDescriptor(m.Config); err != nil {
		return Parsed{}, fmt.Errorf("manifest config: %w", err)
	}
	for i, d := range m.Layers {
		if err := ValidateDescriptor(d); err != nil {
			return Parsed{}, fmt.Errorf("manifest layers[%d]: %w", i, err)
		}
	}
	if err := validateSubject(m.Subject); err != nil {
		return Parsed{}, err
	}
	return Parsed{MediaType: mt, Manifest: &m}, nil
}

var errSchema1 = fmt.Errorf("schema 1 manifests (Docker Image Format v1) are not supported; push the image again with a current client: %w", errdefs.ErrUnsupported)

// manifestType settles the media type from what was declared and what the body says.
func manifestType(declared string, p probe) (string, error) {
	body := p.MediaType
	known := func(mt string) bool { return IsIndex(mt) || IsManifest(mt) }
	switch {
	case body != "" && !known(body):
		return "", fmt.Errorf("manifest media type %q: %w", body, errdefs.ErrUnsupported)
	case body != "" && known(declared) && body != declared:
		return "", fmt.Errorf("manifest declares media type %q but was sent as %q: %w", body, declared, errdefs.ErrInvalid)
	case body != "":
		return body, nil
	case known(declared):
		return declared, nil
	case declared != "" && declared != "application/json" && declared != "application/octet-stream":
		return "", fmt.Errorf("manifest media type %q: %w", declared, errdefs.ErrUnsupported)
	case p.Manifests != nil:
		return ocispec.MediaTypeImageIndex, nil
	case p.Config != nil:
		return ocispec.MediaTypeImageManifest, nil
	}
	return "", fmt.Errorf("manifest is neither an image manifest nor an index: %w", errdefs.ErrInvalid)
}

// ValidateDescriptor checks what a registry and a puller rely on: a supported
// digest and a size that is not negative.
func ValidateDescriptor(d ocispec.Descriptor) error {
	if _, err := ParseDigest(d.Digest.String()); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("descriptor %s has negative size %d: %w", d.Digest, d.Size, errdefs.ErrInvalid)
	}
	return nil
}

func validateSubject(s *ocispec.Descriptor) error {
	if s == nil {
		return nil
	}
	if err := ValidateDescriptor(*s); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	return nil
}
