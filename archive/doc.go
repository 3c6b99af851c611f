// Package archive turns layer tars into layer directories that overlayfs stacks.
//
// Each layer unpacks into its own empty directory, so layers unpack in parallel and
// none waits for the one below it. Layer tars come from strangers, so Apply follows the
// rules moby and containerd learned from their CVEs:
//
//   - every parent directory resolves inside the layer root as if the root were "/"
//     (openat2 RESOLVE_IN_ROOT), so a symlink in the tar can never lead a write outside;
//   - an entry that replaces a symlink replaces it; owner, mode, xattrs and times are set
//     on a descriptor of the new file or with *at calls that do not follow a final symlink
//     (CVE-2021-32760);
//   - names and hardlink targets that lexically climb out of the root are rejected
//     (CVE-2014-6407, CVE-2014-9356); symlink targets are data and are stored as written;
//   - a hardlink to a file of a lower layer is copied, never linked, because a link would
//     let this layer's metadata rewrite the shared lower layer.
//
// Whiteouts become overlayfs whiteouts: ".wh.NAME" a 0/0 character device, ".wh..wh..opq"
// the trusted.overlay.opaque xattr on its directory.
//
// Sizes are counted as Docker 20.10 counts them on overlay2 (moby's pkg/directory.Size
// of the layer directory), so `image ls` and `history` agree with Docker.
package archive
