#!/usr/bin/env bash
# bench/run.sh: `berth run --rm IMG true` against `docker run --rm IMG true`
# (and podman's, where it runs) on the same busybox image, alternating in one
# run, with --network none and with the default network; prints the medians
# and the ratios. Goal: berth at most 0.33x docker.
#
# berth is the CLI when it has `run` (BERTH=path, image imported with
# `berth import`), else bench/rundriver, which drives the runtime package
# exactly as the CLI does (one process per run, itself as the shim).
# Needs root, runc, docker.io, busybox-static; podman is optional.
# Knobs: N runs per tool and mode (default 20), BENCH_DIR (default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-20}
work=${BENCH_DIR:-$(mktemp -d /tmp/bbench.XXXXXX)}
mkdir -p "$work"
dockerd_pid=

cleanup() {
	set +e
	if [ -n "$dockerd_pid" ]; then
		kill "$dockerd_pid" 2>/dev/null || true
		wait "$dockerd_pid" 2>/dev/null || true
	fi
	ip link del dkbench0 2>/dev/null || true
	# podman leaves its storage mounted.
	grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
	[ -z "${BENCH_DIR:-}" ] && rm -rf "$work"
	return 0
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "bench/run.sh needs root" >&2; exit 1; }

# The image: busybox-static, one layer, as a directory and as a tarball.
layer=$work/layer
rm -rf "$layer" && mkdir -p "$layer/bin" "$layer/etc" "$layer/tmp" "$layer/proc" "$layer/sys" "$layer/dev"
cp /bin/busybox "$layer/bin/busybox"
for a in sh true echo cat; do ln -s busybox "$layer/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$layer/etc/passwd"
echo 'root:x:0:' >"$layer/etc/group"
tar -C "$layer" -cf "$work/layer.tar" .

# berth
BERTH=${BERTH:-$PWD/bin/berth}
if [ -x "$BERTH" ] && "$BERTH" run --help >/dev/null 2>&1; then
	export BERTH_ROOT=$work/berth
	"$BERTH" import "$work/layer.tar" bench/busybox >/dev/null
	berth_run() { "$BERTH" run --rm "$@" bench/busybox true; }
	echo "berth: $BERTH"
else
	go build -o "$work/rundriver" ./bench/rundriver
	berth_run() { "$work/rundriver" run --root "$work/berth" --layer "$layer" --rm "$@" true; }
	echo "berth: the runtime through bench/rundriver (the CLI has no run yet)"
fi

# docker: a private daemon on its own bridge, so it clashes with no other.
ip link add dkbench0 type bridge
ip addr add 172.30.0.1/16 dev dkbench0
ip link set dkbench0 up
export DOCKER_HOST=unix://$work/d.sock
dockerd --iptables=false --ip-forward=false --ip-masq=false -b dkbench0 \
	--data-root "$work/docker" --exec-root "$work/dexec" --pidfile "$work/d.pid" \
	-H "$DOCKER_HOST" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null || { echo "dockerd did not start: $work/dockerd.log" >&2; exit 1; }
docker import "$work/layer.tar" bench/busybox >/dev/null

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

ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

bench() {
	local label=$1
	shift
	local b=() d=() p=()
	# Warm up each once: the first run pays for page cache and bridges.
	berth_run "$@" >/dev/null 2>&1
	docker run --rm "$@" bench/busybox true >/dev/null 2>&1
	[ -n "$podman_ok" ] && podman_run "$@" >/dev/null 2>&1 || true
	for i in $(seq "$N"); do
		# Alternate who goes first, so neither always meets a warmer machine.
		if [ $((i % 2)) = 1 ]; then
			b+=("$(ms berth_run "$@")")
			d+=("$(ms docker run --rm "$@" bench/busybox true)")
		else
			d+=("$(ms docker run --rm "$@" bench/busybox true)")
			b+=("$(ms berth_run "$@")")
		fi
		if [ -n "$podman_ok" ]; then
			# podman is a guest here: a failed run is left out, not fatal.
			t=$(ms podman_run "$@") && p+=("$t") || true
		fi
	done
	local bm dm
	bm=$(printf '%s\n' "${b[@]}" | median)
	dm=$(printf '%s\n' "${d[@]}" | median)
	printf '%-16s berth %6.0f ms   docker %6.0f ms' "$label" "$bm" "$dm"
	if [ -n "$podman_ok" ] && [ "${#p[@]}" -gt 0 ]; then
		printf '   podman %6.0f ms' "$(printf '%s\n' "${p[@]}" | median)"
	fi
	printf '   berth/docker %.2f (goal <= 0.33)\n' "$(echo "$bm / $dm" | bc -l)"
}

echo "median of $N runs each, alternating; load: $(cut -d' ' -f1-3 /proc/loadavg)"
bench "--network none" --network none
bench "default network"
