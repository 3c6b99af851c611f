package image

import (
	_ "crypto/sha256" // registers sha256 for go-digest
	_ "crypto/sha512" // registers sha512 for go-digest: the OCI spec allows both
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
)

// ParseDigest parses and validates "algorithm:hex" for sha256 or sha512.
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid digest %q: %v: %w", s, err, errdefs.ErrInvalid)
	}
	if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return "", fmt.Errorf("invalid digest %q: algorithm %s not supported (sha256, sha512): %w", s, a, errdefs.ErrUnsupported)
	}
	return d, nil
}

// ShortID is the 12-hex form Docker shows for image and container IDs.
func ShortID(d digest.Digest) string {
	h := d.Encoded()
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
