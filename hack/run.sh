#!/usr/bin/env bash
# make run: until the hub lands, import a small image made from berth's own
# static binary and list it.
set -euo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/usr/local/bin"
cp "$bin" "$work/rootfs/usr/local/bin/berth"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$bin" import -c 'ENTRYPOINT ["/usr/local/bin/berth"]' -c 'CMD ["version"]' -m "berth's own binary" "$work/rootfs.tar" berth-self:latest
"$bin" image ls
"$bin" image history berth-self
