// Package image is the domain every other berth package speaks: references,
// digests, descriptors, manifests, indexes, image configs and platforms.
//
// It does no I/O. Parsers here take bytes and return typed values or an error
// wrapping errdefs.ErrInvalid (or errdefs.ErrUnsupported for well-formed input
// berth refuses, such as Docker schema 1 manifests).
package image
