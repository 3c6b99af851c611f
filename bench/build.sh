#!/usr/bin/env bash
# bench/build.sh: `berth build` against BuildKit (`docker buildx build` on a
# private dockerd) on the same context and base image, alternating in one
# run: a cold build (--no-cache), a warm one (every step cached), and a
# rebuild after one copied file changed (the steps from that COPY run again).
# Prints the medians and the ratios. RUN steps use --network none on both.
#
# The context: a Containerfile with a COPY of 2000 small files, two RUN
# steps over them (one a heredoc), and a final stage that copies from it.
#
# Needs root, runc, docker.io with the buildx plugin, busybox-static.
# Knobs: N runs per tool and case (default 5), BENCH_DIR (default a temp
# dir), BERTH (default bin/berth, built if missing), SETTLE (see lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-5}
work=${BENCH_DIR:-$(mktemp -d /tmp/bbuild.XXXXXX)}
mkdir -p "$work"
BERTH=${BERTH:-$PWD/bin/berth}
[ -x "$BERTH" ] || make build >/dev/null

cleanup() {
	set +e
	stop_dockerd
	ip link del dkbuild0 2>/dev/null
	[ -z "${BENCH_DIR:-}" ] && rm -rf "$work"
	return 0
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "bench/build.sh needs root" >&2; exit 1; }
docker buildx version >/dev/null 2>&1 || { echo "bench/build.sh needs docker's buildx plugin" >&2; exit 1; }

# The base image: busybox-static, imported by each tool from one tarball.
layer=$work/layer
rm -rf "$layer" && mkdir -p "$layer/bin" "$layer/etc" "$layer/tmp"
cp /bin/busybox "$layer/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$layer/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$layer/etc/passwd"
echo 'root:x:0:' >"$layer/etc/group"
tar -C "$layer" -cf "$work/layer.tar" .

ctx=$work/context
rm -rf "$ctx" && mkdir -p "$ctx/src"
for d in $(seq 40); do
	mkdir -p "$ctx/src/d$d"
	for f in $(seq 50); do echo "file $d/$f" >"$ctx/src/d$d/f$f.txt"; done
done
printf '%s\n' \
	'FROM bench/busybox AS build' \
	'WORKDIR /work' \
	'COPY src/ ./src/' \
	'RUN find src -type f | sort | xargs cat | md5sum > /work/sum' \
	'RUN <<SCRIPT' \
	'mkdir -p /out' \
	'cp /work/sum /out/' \
	'tar -cf /out/src.tar src' \
	'SCRIPT' \
	'FROM bench/busybox' \
	'COPY --from=build /out /out' \
	'CMD ["cat", "/out/sum"]' >"$ctx/Containerfile"

export BERTH_ROOT=$work/berth
"$BERTH" import "$work/layer.tar" bench/busybox >/dev/null

ip link add dkbuild0 type bridge
ip addr add 172.31.0.1/16 dev dkbuild0
ip link set dkbuild0 up
start_dockerd "$work/docker" -b dkbuild0
docker import "$work/layer.tar" bench/busybox >/dev/null

berth_build() { "$BERTH" build -q --network none "$@" -t bench/out "$ctx"; }
docker_build() { docker buildx build -q --network none "$@" -t bench/out "$ctx"; }
touch_one() { echo "changed $RANDOM$RANDOM" >"$ctx/src/d7/f7.txt"; }

timed() { seconds "$@" 2>/dev/null || { echo "failed: $*" >&2; return 1; }; }

# bench LABEL PREP ARGS...: N alternating runs of each tool, PREP before each.
bench() {
	local label=$1 prep=$2
	shift 2
	local b=() d=()
	for i in $(seq "$N"); do
		settle
		if [ $((i % 2)) = 1 ]; then
			$prep; b+=("$(timed berth_build "$@")")
			$prep; d+=("$(timed docker_build "$@")")
		else
			$prep; d+=("$(timed docker_build "$@")")
			$prep; b+=("$(timed berth_build "$@")")
		fi
	done
	local bm dm
	bm=$(printf '%s\n' "${b[@]}" | median)
	dm=$(printf '%s\n' "${d[@]}" | median)
	printf '%-20s berth %7.3fs  buildkit %7.3fs  ratio %.2f\n' "$label" "$bm" "$dm" "$(echo "$bm / $dm" | bc -l)"
}

berth_build >/dev/null
docker_build >/dev/null # both caches warm once
bench "cold (--no-cache)" true --no-cache
bench "warm (all cached)" true
bench "one file changed" touch_one
