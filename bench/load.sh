#!/usr/bin/env bash
# bench/load.sh: `berth load` against `docker load` on the same archive, as
# `docker save` writes it, alternating over several rounds in one run, with
# the floor under both (bench/loadfloor: read, hash, write the files, one
# syncfs, nothing else). Each run is timed two ways: to the command's return,
# and to durable data (the command, then `sync`). It prints the bytes each
# made the disk write (the sectors-written counter of the bench filesystem's
# block device, around the command and its sync) and the disk each used.
#
# The archive (issue 13): four layers, ~330 MB: a Debian root made of this
# machine's files, Go's source tree (~12k files), Go's tool tree, a small
# file; loaded into docker and saved back once, cached under $BENCH_DIR.
# Each timed run gets a fresh ext4 filesystem (see fresh_fs in lib.sh).
# Needs root (dockerd, mount).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-5}
BENCH_DIR=${BENCH_DIR:-/var/lib/berth-bench}
BERTH=${BERTH:-$PWD/bin/berth}
mkdir -p "$BENCH_DIR"
[ -x "$BERTH" ] || make build >/dev/null
floor_bin=$BENCH_DIR/loadfloor
CGO_ENABLED=0 go build -o "$floor_bin" ./bench/loadfloor

mnt=$BENCH_DIR/mnt
cleanup() { stop_dockerd; mountpoint -q "$mnt" && umount "$mnt"; rm -f "$BENCH_DIR/fs.img"; }
trap cleanup EXIT

# layer_tar OUT DIR...: a layer of these directories of this machine.
layer_tar() {
	local out=$1
	shift
	tar -C / -cf "$out" "$@" 2>/dev/null || true
}

archive=$BENCH_DIR/load-archive-4.tar
if [ ! -f "$archive" ]; then
	echo "building the archive (once)..."
	work=$(mktemp -d "$BENCH_DIR/build.XXXX")
	goroot=$(go env GOROOT)
	mkdir -p "$work/small/etc" && echo "bench" >"$work/small/etc/bench-release"
	layer_tar "$work/0.tar" bin lib lib64 sbin etc usr/sbin usr/share/zoneinfo
	layer_tar "$work/1.tar" "${goroot#/}/src"
	layer_tar "$work/2.tar" "${goroot#/}/pkg/tool"
	tar -C "$work/small" -cf "$work/3.tar" etc/bench-release
	diffs=$(for i in 0 1 2 3; do printf '"sha256:%s",' "$(sha256sum "$work/$i.tar" | cut -d' ' -f1)"; done)
	hist=$(for _ in 0 1 2 3; do printf '{"created":"2024-01-01T00:00:00Z","created_by":"COPY . /"},'; done)
	printf '{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
		"${diffs%,}" "${hist%,}" >"$work/config.json"
	cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
	mv "$work/config.json" "$work/$cfg.json"
	printf '[{"Config":"%s.json","RepoTags":["bench/load:latest"],"Layers":["0.tar","1.tar","2.tar","3.tar"]}]' "$cfg" >"$work/manifest.json"
	tar -C "$work" -cf "$work/handmade.tar" manifest.json "$cfg.json" 0.tar 1.tar 2.tar 3.tar
	# As docker save writes it: the layers first, the manifests after them.
	fresh_fs "$BENCH_DIR/fs.img" "$mnt"
	start_dockerd "$mnt/docker"
	docker load -i "$work/handmade.tar" >/dev/null
	docker save -o "$archive.tmp" bench/load:latest
	stop_dockerd
	mv "$archive.tmp" "$archive"
	rm -rf "$work"
fi
echo "archive: $(du -h "$archive" | cut -f1); its entries in order: $(tar -tf "$archive" | tr '\n' ' ')"

# sectors: the sectors the bench filesystem's block device has written.
sectors() {
	awk '{print $7}' "/sys/block/$(basename "$(findmnt -no SOURCE "$mnt")")/stat"
}

# timed CMD...: runs CMD on the bench filesystem; sets ret (seconds to its
# return), durable (to the end of the `sync` after it) and mb (MB written).
timed() {
	local s0 s1 t0 t1 t2
	s0=$(sectors)
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	sync
	t2=$(date +%s.%N)
	s1=$(sectors)
	ret=$(echo "$t1 - $t0" | bc -l)
	durable=$(echo "$t2 - $t0" | bc -l)
	mb=$(echo "($s1 - $s0) * 512 / 1000000" | bc -l)
}

declare -A rets durables mbs dus
for round in $(seq "$ROUNDS"); do
	# Alternate who goes first, so neither always runs on a warmer machine.
	order="berth docker floor"
	[ $((round % 2)) = 0 ] && order="floor docker berth"
	for who in $order; do
		stop_dockerd
		fresh_fs "$BENCH_DIR/fs.img" "$mnt"
		case $who in
		berth)
			settle
			timed "$BERTH" --root "$mnt/berth" load -i "$archive"
			du_kb=$(du -sk "$mnt/berth" | cut -f1)
			;;
		docker)
			start_dockerd "$mnt/docker"
			settle
			timed docker load -i "$archive"
			du_kb=$(du -sk "$mnt/docker/root" | cut -f1)
			;;
		floor)
			settle
			timed "$floor_bin" -out "$mnt/floor" "$archive"
			du_kb=$(du -sk "$mnt/floor" | cut -f1)
			;;
		esac
		rets[$who]+="$ret " durables[$who]+="$durable " mbs[$who]+="$mb " dus[$who]+="$du_kb "
		printf 'round %d %-6s return %6.2fs  durable %6.2fs  wrote %7.1f MB  uses %7.1f MB\n' "$round" "$who" "$ret" "$durable" "$mb" "$(echo "$du_kb / 1000" | bc -l)"
	done
done
if [ -x "$BERTH" ]; then
	fresh_fs "$BENCH_DIR/fs.img" "$mnt"
	"$BERTH" --root "$mnt/berth" load -i "$archive" >/dev/null
	echo
	"$BERTH" --root "$mnt/berth" system df
fi

for who in berth docker floor; do
	for k in rets durables mbs dus; do
		eval "vals=\${$k[$who]}"
		# shellcheck disable=SC2154,SC2086 # vals is set by the eval; split on purpose
		eval "m_${k}_$who=$(printf '%s\n' $vals | median)"
	done
done
ratio() { echo "$1 / $2" | bc -l; }
printf '\nmedians (%d rounds)      berth     docker    floor\n' "$ROUNDS"
printf 'to return        %9.2fs %9.2fs %9.2fs\n' "$m_rets_berth" "$m_rets_docker" "$m_rets_floor"
printf 'to durable data  %9.2fs %9.2fs %9.2fs\n' "$m_durables_berth" "$m_durables_docker" "$m_durables_floor"
printf 'disk written     %9.1fMB %8.1fMB %8.1fMB\n' "$m_mbs_berth" "$m_mbs_docker" "$m_mbs_floor"
printf 'disk used (du)   %9.1fMB %8.1fMB %8.1fMB (the floor: the layers'"'"' allocated size)\n' \
	"$(echo "$m_dus_berth / 1000" | bc -l)" "$(echo "$m_dus_docker / 1000" | bc -l)" "$(echo "$m_dus_floor / 1000" | bc -l)"
printf '\nberth/docker to return:        %.2f (goal <= 0.75)\n' "$(ratio "$m_rets_berth" "$m_rets_docker")"
printf 'berth/docker to durable data:  %.2f (goal <= 0.5)\n' "$(ratio "$m_durables_berth" "$m_durables_docker")"
printf 'berth/floor to durable data:   %.2f (goal <= 1.3)\n' "$(ratio "$m_durables_berth" "$m_durables_floor")"
printf 'berth written/layers allocated: %.2f (goal <= 1.1)\n' "$(ratio "$m_mbs_berth" "$(echo "$m_dus_floor / 1000" | bc -l)")"
printf 'berth/docker disk used:        %.2f (goal <= 1.05)\n' "$(ratio "$m_dus_berth" "$m_dus_docker")"
