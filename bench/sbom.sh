#!/usr/bin/env bash
# bench/sbom.sh: time berth's image inventory against syft on the same image
# in the same run, alternating which goes first each round; print the median
# of each and the ratio, then check that berth finds every package (name and
# version) that syft finds.
#
#   ROUNDS=5 bench/sbom.sh
#
# The image is a Debian bookworm root from debootstrap (cached under
# $BENCH_CACHE) plus a layer of Go binaries and a layer with a whiteout; with
# no debootstrap (or NO_DEBOOTSTRAP=1) it falls back to a few hundred MB of
# this machine's /usr.
#
# berth runs as $BERTH_SBOM (default: bench/sbomdriver, built here, which
# reads the docker-archive directly). Once `berth image sbom` exists, run
#   BERTH_SBOM='berth image sbom --format json bench/sbom:latest' bench/sbom.sh
# after `berth load -i` of the archive (the script prints its path), or set
# BERTH_LOAD='berth load -i' to have the script load it first.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
BENCH_CACHE=${BENCH_CACHE:-/var/cache/berth-bench}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/berth-bench-sbom.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$BENCH_CACHE" "$work/bin"

step() { printf '== %s\n' "$*" >&2; }

step "building berth's driver and installing syft (temporary GOBIN)"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/bin/sbomdriver" ./bench/sbomdriver)
if [[ -n "${SYFT:-}" ]]; then
	syft=$SYFT
else
	GOBIN="$work/bin" CGO_ENABLED=0 go install "github.com/anchore/syft/cmd/syft@${SYFT_VERSION:-latest}"
	syft="$work/bin/syft"
fi
export SYFT_CHECK_FOR_APP_UPDATE=false
"$syft" version 2>/dev/null | grep -E '^(Version|GoVersion)' >&2 || true

root=""
if [[ -n "${NO_DEBOOTSTRAP:-}" ]]; then
	: # use this machine's /usr
elif [[ -d "$BENCH_CACHE/$SUITE-minbase-py" ]]; then
	root="$BENCH_CACHE/$SUITE-minbase-py"
elif command -v debootstrap >/dev/null; then
	step "debootstrap $SUITE (once; cached in $BENCH_CACHE)"
	tmp="$BENCH_CACHE/.$SUITE-minbase-py.tmp"
	rm -rf "$tmp"
	if debootstrap --variant=minbase --include=python3-requests,ca-certificates "$SUITE" "$tmp" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
		mv "$tmp" "$BENCH_CACHE/$SUITE-minbase-py"
		root="$BENCH_CACHE/$SUITE-minbase-py"
	else
		tail -5 "$work/debootstrap.log" >&2
		rm -rf "$tmp"
	fi
fi

step "building the image"
mkdir -p "$work/l2/usr/local/bin" "$work/l3"
if [[ -n "$root" ]]; then
	tar -C "$root" --numeric-owner --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -cf "$work/l1.tar" .
	py=$root
else
	echo "no debootstrap root: using this machine's /usr as the first layer" >&2
	tar -C / --numeric-owner --ignore-failed-read -cf "$work/l1.tar" \
		bin sbin lib lib64 etc/os-release usr/lib/os-release var/lib/dpkg/status var/lib/dpkg/info usr/bin usr/sbin usr/lib/python3 2>/dev/null || true
	py=/
fi
# layer 2: Go binaries (syft itself, berth's driver) and npm's node_modules if present
cp "$syft" "$work/bin/sbomdriver" "$work/l2/usr/local/bin/"
if [[ -d /usr/lib/node_modules/npm ]]; then
	mkdir -p "$work/l2/usr/lib/node_modules" && cp -r /usr/lib/node_modules/npm "$work/l2/usr/lib/node_modules/"
elif [[ -d /usr/share/nodejs ]]; then
	mkdir -p "$work/l2/usr/share" && cp -r /usr/share/nodejs "$work/l2/usr/share/"
fi
tar -C "$work/l2" --numeric-owner -cf "$work/l2.tar" .
# layer 3: deletes one Python distribution with a whiteout
dist=$(cd "$py" && ls -d usr/lib/python3/dist-packages/*.dist-info usr/lib/python3/dist-packages/*.egg-info 2>/dev/null | head -1 || true)
if [[ -n "$dist" ]]; then
	mkdir -p "$work/l3/$(dirname "$dist")"
	: >"$work/l3/$(dirname "$dist")/.wh.$(basename "$dist")"
	echo "layer 3 deletes /$dist" >&2
fi
tar -C "$work/l3" --numeric-owner -cf "$work/l3.tar" .
image="$work/image.tar"
"$work/bin/sbomdriver" mkimage -o "$image" -tag bench/sbom:latest "$work/l1.tar" "$work/l2.tar" "$work/l3.tar"
rm -f "$work/l1.tar" "$work/l2.tar" "$work/l3.tar"
echo "image: $image ($(du -h "$image" | cut -f1))" >&2

if [[ -n "${BERTH_LOAD:-}" ]]; then
	$BERTH_LOAD "$image"
fi
berth_cmd=${BERTH_SBOM:-"$work/bin/sbomdriver -format json $image"}
syft_cmd="$syft -q docker-archive:$image -o json"

now() { date +%s%N; }
run_timed() { # name cmd...; appends milliseconds to $work/<name>.ms
	local name=$1; shift
	local t0 t1
	t0=$(now)
	"$@" >/dev/null
	t1=$(now)
	echo $(((t1 - t0) / 1000000)) >>"$work/$name.ms"
}

step "warm-up (page cache) and $ROUNDS alternating rounds"
$berth_cmd >/dev/null
$syft_cmd >/dev/null
for ((i = 1; i <= ROUNDS; i++)); do
	if ((i % 2)); then
		run_timed berth $berth_cmd
		run_timed syft $syft_cmd
	else
		run_timed syft $syft_cmd
		run_timed berth $berth_cmd
	fi
	printf 'round %d: berth %s ms, syft %s ms\n' "$i" "$(tail -1 "$work/berth.ms")" "$(tail -1 "$work/syft.ms")"
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mb=$(median "$work/berth.ms")
ms=$(median "$work/syft.ms")
echo "median: berth ${mb} ms, syft ${ms} ms; syft/berth = $(awk -v s="$ms" -v b="$mb" 'BEGIN {printf "%.2f", s/b}')x"

step "coverage: does berth find every package syft finds?"
$syft_cmd >"$work/syft.json"
"$work/bin/sbomdriver" compare "$work/syft.json" "$image" || true
jq -r '.artifacts | group_by(.type)[] | "  syft \(.[0].type): \(length)"' "$work/syft.json" 2>/dev/null || true
"$work/bin/sbomdriver" -format json "$image" | jq -r '.packages | group_by(.type)[] | "  berth \(.[0].type): \(length)"' 2>/dev/null || true
