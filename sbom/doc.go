// Package sbom takes the inventory of an image: the OS packages and the
// language libraries installed in it, and the layer that added each one.
//
// An image is an ordered list of layers, lowest first. Each layer is read
// once, as a tar stream or as an unpacked overlayfs lower directory, and only
// the files that can describe packages are kept: package databases (dpkg,
// apk, rpm), library manifests (Python METADATA, package.json, jars) and
// executables that turn out to be Go binaries or Rust binaries built with
// cargo-auditable. Nothing else is copied, so an image is never unpacked.
//
// The layers are then stacked as overlayfs would: a whiteout, an opaque
// directory, or a file replacing a directory in a higher layer hides what the
// lower layers hold at that path. A package is attributed to the lowest layer
// from which it has been present without interruption, so a package added by
// layer 3 to a dpkg status file that layer 1 created is attributed to layer 3.
//
// Damaged databases and archives do not stop the inventory: each becomes a
// Warning naming the file and layer, and the rest of the image is analysed.
package sbom
