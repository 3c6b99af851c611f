#!/usr/bin/env bash
# bench/load.sh: `berth load` against `docker load` on the same Docker archive,
# alternating over several rounds in one run; prints the medians and the ratio.
#
# The archive: several layers made from this machine's own files (hundreds of
# MB, tens of thousands of files), cached under $BENCH_DIR. Each timed run gets
# a fresh ext4 filesystem (see fresh_fs in lib.sh). Needs root (dockerd, mount).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-5}
BENCH_DIR=${BENCH_DIR:-/var/lib/berth-bench}
BERTH=${BERTH:-$PWD/bin/berth}
mkdir -p "$BENCH_DIR"
[ -x "$BERTH" ] || make build >/dev/null

archive=$BENCH_DIR/load-archive.tar
if [ ! -f "$archive" ]; then
	echo "building the archive (once)..."
	work=$(mktemp -d "$BENCH_DIR/build.XXXX")
	layers=() diffs=()
	for d in /usr/share/locale /usr/share/doc /usr/lib/gcc /usr/share/man /usr/lib/python3.11 /usr/share/perl; do
		[ -d "$d" ] || continue
		n=${#layers[@]}
		mkdir -p "$work/$n"
		tar -C / -cf "$work/$n/layer.tar" "${d#/}" 2>/dev/null || true
		layers+=("$n/layer.tar")
		diffs+=("\"sha256:$(sha256sum "$work/$n/layer.tar" | cut -d' ' -f1)\"")
	done
	ids=$(IFS=,; echo "${diffs[*]}")
	hist=$(for _ in "${layers[@]}"; do printf '{"created":"2024-01-01T00:00:00Z","created_by":"COPY . /"},'; done)
	printf '{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
		"$ids" "${hist%,}" >"$work/config.json"
	cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
	mv "$work/config.json" "$work/$cfg.json"
	files=$(printf '"%s",' "${layers[@]}")
	printf '[{"Config":"%s.json","RepoTags":["bench/load:latest"],"Layers":[%s]}]' "$cfg" "${files%,}" >"$work/manifest.json"
	tar -C "$work" -cf "$archive.tmp" manifest.json "$cfg.json" "${layers[@]}"
	mv "$archive.tmp" "$archive"
	rm -rf "$work"
fi
echo "archive: $(du -h "$archive" | cut -f1), $(tar -tf "$archive" | grep -c layer.tar) layers"

mnt=$BENCH_DIR/mnt
cleanup() { stop_dockerd; mountpoint -q "$mnt" && umount "$mnt"; rm -f "$BENCH_DIR/fs.img"; }
trap cleanup EXIT

berth_times=() docker_times=()
for round in $(seq "$ROUNDS"); do
	# Alternate who goes first, so neither always runs on a warmer machine.
	for who in $([ $((round % 2)) = 1 ] && echo "berth docker" || echo "docker berth"); do
		stop_dockerd
		fresh_fs "$BENCH_DIR/fs.img" "$mnt"
		if [ "$who" = berth ]; then
			settle
			t=$(seconds "$BERTH" --root "$mnt/berth" load -i "$archive")
			berth_times+=("$t")
		else
			start_dockerd "$mnt/docker"
			settle
			t=$(seconds docker load -i "$archive")
			docker_times+=("$t")
		fi
		printf 'round %d %-6s %6.2fs\n' "$round" "$who" "$t"
	done
done
b=$(printf '%s\n' "${berth_times[@]}" | median)
d=$(printf '%s\n' "${docker_times[@]}" | median)
printf '\nmedian berth load: %.2fs   docker load: %.2fs   ratio berth/docker: %.2f (goal <= 0.75)\n' "$b" "$d" "$(echo "$b / $d" | bc -l)"
