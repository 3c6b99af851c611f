#!/usr/bin/env bash
# bench/run.sh: `berth run --rm IMG true` against `docker run --rm IMG true`
# (and podman's, where it runs) on the same busybox image, alternating in one
# run, with --network none and with the default network; prints the medians
# and the ratios. With --network none it also times bare `runc run` of the
# bundle berth generates (its config.json, its root: the image's one layer
# copied into a plain directory), the floor berth's own work is measured
# against. Goals: berth at most 0.33x docker; with --network none at most
# 2x bare runc and 0.25x docker.
#
# Needs root, runc, docker.io, busybox-static; podman is optional.
# Knobs: N runs per tool and mode (default 10), BENCH_DIR (default a temp
# dir), BERTH (default bin/berth, built if missing), SETTLE (see lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-10}
work=${BENCH_DIR:-$(mktemp -d /tmp/bbench.XXXXXX)}
mkdir -p "$work"
BERTH=${BERTH:-$PWD/bin/berth}
[ -x "$BERTH" ] || make build >/dev/null

cleanup() {
	set +e
	stop_dockerd
	ip link del dkbench0 2>/dev/null
	local ids
	ids=$("$BERTH" --root "$work/berth" ps -aq 2>/dev/null)
	[ -n "$ids" ] && "$BERTH" --root "$work/berth" rm -f $ids >/dev/null 2>&1
	# podman leaves its storage mounted.
	grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null; done
	[ -z "${BENCH_DIR:-}" ] && rm -rf "$work"
	return 0
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "bench/run.sh needs root" >&2; exit 1; }

# The image: busybox-static, one layer, imported by each tool from one tarball.
layer=$work/layer
rm -rf "$layer" && mkdir -p "$layer/bin" "$layer/etc" "$layer/tmp" "$layer/proc" "$layer/sys" "$layer/dev"
cp /bin/busybox "$layer/bin/busybox"
for a in sh true echo cat; do ln -s busybox "$layer/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$layer/etc/passwd"
echo 'root:x:0:' >"$layer/etc/group"
tar -C "$layer" -cf "$work/layer.tar" .

export BERTH_ROOT=$work/berth
"$BERTH" import "$work/layer.tar" bench/busybox >/dev/null
berth_run() { "$BERTH" run --rm "$@" bench/busybox true; }

# Bare runc: the bundle berth writes for `run --network none IMG true`,
# taken from a container that ran (and is kept: the config's /etc/hosts
# and friends are its files), with the layer as a plain root directory.
bundle=$work/bundle
cid=$("$BERTH" run -d --network none bench/busybox true)
"$BERTH" wait "$cid" >/dev/null
mkdir -p "$bundle"
cp "$work/berth/containers/$cid/config.json" "$bundle/config.json"
cp -a "$layer" "$bundle/rootfs"
grep -q '"path":"rootfs"' "$bundle/config.json" || { echo "berth's config.json has another root" >&2; exit 1; }
# A new ID each run (runc run removes its container as it ends).
runc_run() { runc --root "$work/runc" run --bundle "$bundle" "bench-$(date +%s%N)" </dev/null; }

# docker: a private daemon on its own bridge, so it clashes with no other.
ip link add dkbench0 type bridge
ip addr add 172.30.0.1/16 dev dkbench0
ip link set dkbench0 up
start_dockerd "$work/docker" -b dkbench0
docker import "$work/layer.tar" bench/busybox >/dev/null
docker_run() { docker run --rm "$@" bench/busybox true; }

# podman, if it runs here.
podman_ok=
pm() {
	podman --root "$work/podman" --runroot "$work/prun" --runtime runc \
		--cgroup-manager cgroupfs --events-backend file "$@"
}
podman_run() { pm run --rm --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 "$@" bench/busybox true; }
if command -v podman >/dev/null && pm import "$work/layer.tar" bench/busybox >/dev/null 2>&1 &&
	podman_run --network none >/dev/null 2>&1; then
	podman_ok=1
fi

# timed CMD...: its wall time in seconds; a failure is fatal.
timed() {
	seconds "$@" 2>/dev/null || { echo "failed: $*" >&2; return 1; }
}

# bench LABEL [ARGS...]: times the three (four with runc: BARE=1) runs.
bench() {
	local label=$1
	shift
	local b=() d=() p=() r=() t
	settle
	# Warm up each once: the first run pays for page cache and bridges.
	berth_run "$@" >/dev/null 2>&1
	docker_run "$@" >/dev/null 2>&1
	[ -n "${BARE:-}" ] && runc_run >/dev/null 2>&1
	[ -n "$podman_ok" ] && podman_run "$@" >/dev/null 2>&1 || true
	for i in $(seq "$N"); do
		# Alternate who goes first, so neither always meets a warmer machine.
		if [ $((i % 2)) = 1 ]; then
			b+=("$(timed berth_run "$@")")
			d+=("$(timed docker_run "$@")")
			[ -n "${BARE:-}" ] && r+=("$(timed runc_run)")
		else
			[ -n "${BARE:-}" ] && r+=("$(timed runc_run)")
			d+=("$(timed docker_run "$@")")
			b+=("$(timed berth_run "$@")")
		fi
		if [ -n "$podman_ok" ]; then
			# podman is a guest here: a failed run is left out, not fatal.
			t=$(seconds podman_run "$@" 2>/dev/null) && p+=("$t") || true
		fi
	done
	local bm dm
	bm=$(printf '%s\n' "${b[@]}" | median)
	dm=$(printf '%s\n' "${d[@]}" | median)
	printf '%-16s berth %6.0f ms   docker %6.0f ms' "$label" "$(echo "$bm * 1000" | bc -l)" "$(echo "$dm * 1000" | bc -l)"
	if [ -n "$podman_ok" ] && [ "${#p[@]}" -gt 0 ]; then
		printf '   podman %6.0f ms' "$(echo "$(printf '%s\n' "${p[@]}" | median) * 1000" | bc -l)"
	fi
	printf '   berth/docker %.2f (goal <= 0.33)\n' "$(echo "$bm / $dm" | bc -l)"
	if [ -n "${BARE:-}" ]; then
		local rm
		rm=$(printf '%s\n' "${r[@]}" | median)
		printf '%-16s bare runc run %6.0f ms   berth/runc %.2f (goal <= 2)   berth/docker %.2f (goal <= 0.25)\n' "" \
			"$(echo "$rm * 1000" | bc -l)" "$(echo "$bm / $rm" | bc -l)" "$(echo "$bm / $dm" | bc -l)"
	fi
}

echo "berth: $BERTH"
echo "median of $N runs each, alternating; load: $(cut -d' ' -f1-3 /proc/loadavg)"
BARE=1 bench "--network none" --network none
bench "default network"
