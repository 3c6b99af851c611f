package image

import (
	"bytes"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
)

// Media types berth reads besides the OCI ones in ocispec.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	MediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"

	// MediaTypeDockerLayerTar is what Docker once used for uncompressed layers.
	MediaTypeDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar"

	// Non-distributable layers are deprecated for writing, but images
	// that have them are still pulled and run.
	mediaTypeNonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
)

// Compression is how a layer blob is encoded.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	default:
		return "uncompressed"
	}
}

// LayerCompression tells how a layer of the given media type is compressed,
// or fails for a media type that is not a layer berth can unpack.
func LayerCompression(mediaType string) (Compression, error) {
	switch mediaType {
	case ocispec.MediaTypeImageLayer, mediaTypeNonDistributable, MediaTypeDockerLayerTar:
		return Uncompressed, nil
	case ocispec.MediaTypeImageLayerGzip, mediaTypeNonDistributable + "+gzip", MediaTypeDockerLayer, MediaTypeDockerForeignLayer:
		return Gzip, nil
	case ocispec.MediaTypeImageLayerZstd, mediaTypeNonDistributable + "+zstd":
		return Zstd, nil
	}
	return 0, fmt.Errorf("layer media type %q: %w", mediaType, errdefs.ErrUnsupported)
}

// DetectCompression tells the compression of a stream from its first bytes.
func DetectCompression(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b, 0x08}):
		return Gzip
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	}
	return Uncompressed
}

// IsIndex reports whether mediaType names an image index or manifest list.
func IsIndex(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == MediaTypeDockerManifestList
}

// IsManifest reports whether mediaType names a single-image manifest.
func IsManifest(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageManifest || mediaType == MediaTypeDockerManifest
}

// IsConfig reports whether mediaType names an image config berth can run.
func IsConfig(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageConfig || mediaType == MediaTypeDockerConfig
}

// ManifestMediaTypes is what a client sends in Accept to get any manifest
// berth understands, the preferred first.
var ManifestMediaTypes = []string{
	ocispec.MediaTypeImageIndex,
	MediaTypeDockerManifestList,
	ocispec.MediaTypeImageManifest,
	MediaTypeDockerManifest,
}
