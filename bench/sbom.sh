#!/usr/bin/env bash
# bench/sbom.sh: time `berth image sbom` against syft on the same image in
# the same run, alternating which goes first each round; print the median
# of each and the ratio, then check that berth finds every package (name and
# version) that syft finds.
#
#   ROUNDS=5 bench/sbom.sh
#   SYFT=/path/to/syft bench/sbom.sh      # a prebuilt syft instead of go install
#
# The image is a Debian bookworm root from debootstrap (cached under
# $BENCH_CACHE) plus a layer of Go binaries and a layer with a whiteout; with
# no debootstrap (or NO_DEBOOTSTRAP=1) it falls back to a few hundred MB of
# this machine's /usr. It is written as a Docker archive, loaded into a
# temporary store with `berth load -i` ($BERTH_LOAD), and inventoried there
# with `berth image sbom --format json bench/sbom:latest` ($BERTH_SBOM),
# which reads the unpacked layers in place; syft reads the same archive
# (docker-archive:), as it would a saved image.
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

step "building berth and installing syft (temporary GOBIN)"
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$work/bin/berth" ./cmd/berth)
berth="$work/bin/berth --root $work/store"
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
# layer 2: Go binaries (syft itself, berth) and npm's node_modules if present
cp "$syft" "$work/bin/berth" "$work/l2/usr/local/bin/"
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
# mkimage OUT TAG LAYER.tar...: a Docker archive as `docker save` writes it
# (<diffID>/layer.tar, the config, manifest.json); the layers are moved in.
mkimage() {
	local out=$1 tag=$2 dir="$work/archive" l h diffids=() layers=()
	shift 2
	mkdir -p "$dir"
	for l in "$@"; do
		h=$(sha256sum "$l" | cut -d' ' -f1)
		mkdir -p "$dir/$h"
		mv "$l" "$dir/$h/layer.tar"
		diffids+=("sha256:$h") layers+=("$h/layer.tar")
	done
	jq -n --args '{architecture:"amd64", os:"linux", created:"2024-01-01T00:00:00Z",
		config:{Cmd:["/bin/sh"]}, rootfs:{type:"layers", diff_ids:$ARGS.positional},
		history:[$ARGS.positional[] | {created:"2024-01-01T00:00:00Z", created_by:"ADD layer"}]}' "${diffids[@]}" >"$dir/config.json"
	h=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
	mv "$dir/config.json" "$dir/$h.json"
	jq -n --arg c "$h.json" --arg t "$tag" --args '[{Config:$c, RepoTags:[$t], Layers:$ARGS.positional}]' "${layers[@]}" >"$dir/manifest.json"
	tar -C "$dir" -cf "$out" .
	rm -rf "$dir"
}
image="$work/image.tar"
mkimage "$image" bench/sbom:latest "$work/l1.tar" "$work/l2.tar" "$work/l3.tar"
echo "image: $image ($(du -h "$image" | cut -f1))" >&2

step "loading it into a temporary berth store"
${BERTH_LOAD:-$berth load -i} "$image"
berth_cmd=${BERTH_SBOM:-"$berth image sbom --format json bench/sbom:latest"}
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
# Both sides as "name version" lines, named alike: Python names in their
# PEP 503 form, Maven packages by artifact id (syft's name), a Go main
# module built without a version as `go version -m` prints it.
$syft_cmd >"$work/syft.json"
$berth_cmd >"$work/berth.json"
jq -r '.artifacts[] | (if .type == "python" then (.name | ascii_downcase | gsub("[-_.]+"; "-")) else .name end) + " " +
	(if .type == "go-module" and .version == "UNKNOWN" then "(devel)" else .version end) + "\t" + .type' \
	"$work/syft.json" | sort -u >"$work/syft.pkgs"
jq -r '.packages[] | (if .type == "pypi" then (.name | ascii_downcase | gsub("[-_.]+"; "-"))
	elif .type == "maven" then (.name | split(":") | last) else .name end) + " " + .version' \
	"$work/berth.json" | sort -u >"$work/berth.pkgs"
cut -f1 "$work/syft.pkgs" | sort -u >"$work/syft.names"
missing=$(comm -23 "$work/syft.names" "$work/berth.pkgs")
extra=$(comm -13 "$work/syft.names" "$work/berth.pkgs")
echo "syft: $(wc -l <"$work/syft.names") distinct name+version, berth: $(wc -l <"$work/berth.pkgs");" \
	"missing from berth: $(grep -c . <<<"$missing" || true); only berth: $(grep -c . <<<"$extra" || true)"
while read -r m; do
	[[ -n "$m" ]] && printf '  missing: %s (%s)\n' "$m" "$(grep -F "$m"$'\t' "$work/syft.pkgs" | head -1 | cut -f2)"
done <<<"$missing"
while read -r e; do [[ -n "$e" ]] && echo "  only berth: $e"; done <<<"$extra"
jq -r '.artifacts | group_by(.type)[] | "  syft \(.[0].type): \(length)"' "$work/syft.json"
jq -r '.packages | group_by(.type)[] | "  berth \(.[0].type): \(length)"' "$work/berth.json"
