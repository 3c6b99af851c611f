#!/usr/bin/env bash
# bench/pull.sh: `berth pull` against `docker pull` of the same image from the
# same distribution registry, alternating over several rounds in one run;
# prints the medians and the ratio, and the floor: reading, hashing and
# gunzipping the same blobs and writing their files, all layers at once,
# nothing else (bench/pullfloor).
#
# The image: several gzip layers made from this machine's own files (hundreds
# of MB unpacked, tens of thousands of files), built once as an OCI layout and
# pushed once with skopeo into a docker-registry whose storage is cached under
# $BENCH_DIR. Needs root (dockerd).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-5}
BENCH_DIR=${BENCH_DIR:-/var/lib/berth-bench}
BERTH=${BERTH:-$PWD/bin/berth}
PORT=${PORT:-5097}
REG=127.0.0.1:$PORT
IMG=$REG/bench/pull:latest
mkdir -p "$BENCH_DIR"
[ -x "$BERTH" ] || make build >/dev/null
floor_bin=$BENCH_DIR/pullfloor
CGO_ENABLED=0 go build -o "$floor_bin" ./bench/pullfloor

layout=$BENCH_DIR/pull-oci
if [ ! -f "$layout/index.json" ]; then
	echo "building the image (once)..."
	rm -rf "$layout"
	work=$(mktemp -d "$BENCH_DIR/build.XXXX")
	mkdir -p "$work/blobs/sha256"
	diffs=() layers=()
	for d in /usr/share/locale /usr/share/doc /usr/lib/gcc /usr/share/man /usr/lib/python3.11 /usr/share/perl; do
		[ -d "$d" ] || continue
		tar -C / -cf "$work/layer.tar" "${d#/}" 2>/dev/null || true
		diffs+=("\"sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)\"")
		gzip -6 -n "$work/layer.tar"
		sum=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
		size=$(stat -c %s "$work/layer.tar.gz")
		mv "$work/layer.tar.gz" "$work/blobs/sha256/$sum"
		echo "$sum" >>"$work/layers.txt"
		layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$sum\",\"size\":$size}")
	done
	hist=$(for _ in "${diffs[@]}"; do printf '{"created":"2024-01-01T00:00:00Z","created_by":"COPY . /"},'; done)
	printf '{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
		"$(IFS=,; echo "${diffs[*]}")" "${hist%,}" >"$work/config.json"
	cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
	cfgsize=$(stat -c %s "$work/config.json")
	mv "$work/config.json" "$work/blobs/sha256/$cfg"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$cfg" "$cfgsize" "$(IFS=,; echo "${layers[*]}")" >"$work/manifest.json"
	man=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
	mansize=$(stat -c %s "$work/manifest.json")
	mv "$work/manifest.json" "$work/blobs/sha256/$man"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
		"$man" "$mansize" >"$work/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
	mv "$work" "$layout"
fi
blobs=()
while read -r l; do blobs+=("$layout/blobs/sha256/$l"); done <"$layout/layers.txt"
echo "image: ${#blobs[@]} layers, $(du -ch "${blobs[@]}" | tail -1 | cut -f1) compressed"

# The distribution registry, storage cached; the image pushed once.
cat >"$BENCH_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $BENCH_DIR/pull-registry
http:
  addr: $REG
EOF
# Leftovers of an interrupted run go first, and their deletion is let to
# age (see below); this run writes into its own new directory.
if ls -d "$BENCH_DIR"/pull-scratch.* >/dev/null 2>&1; then
	rm -rf "$BENCH_DIR"/pull-scratch.*
	sleep 120
fi
scratch=$(mktemp -d "$BENCH_DIR/pull-scratch.XXXX")
docker-registry serve "$BENCH_DIR/registry.yml" >"$BENCH_DIR/registry.log" 2>&1 &
REGISTRY_PID=$!
trap 'set +e; kill $REGISTRY_PID 2>/dev/null; stop_dockerd; rm -rf "$scratch"; true' EXIT
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
if ! curl -fs -o /dev/null -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$REG/v2/bench/pull/manifests/latest"; then
	echo "pushing the image to the registry (once)..."
	skopeo copy -q --dest-tls-verify=false "oci:$layout:latest" "docker://$IMG"
fi

export BERTH_CONFIG=$scratch/config.json

# Nothing is deleted between runs: each run writes into a new directory
# (dockerd gets a new data root), and everything goes at the end. On a
# journal-less ext4 with online discard, as these machines have, files
# created within minutes of a mass deletion crawl (the inode allocator skips
# recently deleted inodes one by one), which would time the last deletion,
# not the pull.
berth_times=() docker_times=() floor_times=()
for round in $(seq "$ROUNDS"); do
	# Alternate who goes first, so neither always runs on a warmer machine.
	for who in $([ $((round % 2)) = 1 ] && echo "berth docker floor" || echo "floor docker berth"); do
		case $who in
		berth)
			settle
			t=$(seconds "$BERTH" --root "$scratch/berth-$round" pull -q "$IMG")
			berth_times+=("$t")
			;;
		docker)
			start_dockerd "$scratch/docker-$round"
			settle
			t=$(seconds docker pull -q "$IMG")
			docker_times+=("$t")
			stop_dockerd
			;;
		floor)
			settle
			t=$("$floor_bin" -out "$scratch/floor-$round" "${blobs[@]}")
			floor_times+=("$t")
			;;
		esac
		printf 'round %d %-6s %6.2fs\n' "$round" "$who" "$t"
	done
done
b=$(printf '%s\n' "${berth_times[@]}" | median)
d=$(printf '%s\n' "${docker_times[@]}" | median)
f=$(printf '%s\n' "${floor_times[@]}" | median)
printf '\nmedian berth pull: %.2fs   docker pull: %.2fs   ratio berth/docker: %.2f (goal <= 0.25)\n' "$b" "$d" "$(echo "$b / $d" | bc -l)"
printf 'floor (read, hash, gunzip, write files; all layers at once): %.2fs   berth/floor: %.2f\n' "$f" "$(echo "$b / $f" | bc -l)"
