#!/usr/bin/env bash
# bench/hub.sh: berth hub against the distribution registry (Debian's
# docker-registry), on the same content, in the same run, with wrk on
# loopback. Prints requests per second for a manifest GET by tag, a small
# blob GET and a large blob GET, and berth's ratio to distribution; then the
# search latency over 100,000 repositories.
#
#   bench/hub.sh [SECONDS]       (default 10 s per measurement)
#
# Needs: go, wrk, curl, sha256sum, docker-registry (apt-get install wrk
# curl docker-registry). Goal: >= 5x on the first two, >= 1x on the third.
set -euo pipefail

DUR=${1:-10}
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-2}
SMALL=${BENCH_SMALL_BYTES:-4096}
LARGE=${BENCH_LARGE_BYTES:-16777216}

for cmd in go wrk curl sha256sum docker-registry; do
	command -v "$cmd" >/dev/null || { echo "bench/hub.sh: $cmd is missing (apt-get install wrk curl docker-registry)" >&2; exit 1; }
done

here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/berth-hub-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

echo "building berth..." >&2
(cd "$here" && CGO_ENABLED=0 go build -o "$work/berth" ./cmd/berth)

# Content: a config, a small layer, a large layer, one manifest.
head -c "$SMALL" /dev/urandom >"$work/small"
head -c "$LARGE" /dev/urandom >"$work/large"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$work/config"
dg() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
small_d=$(dg "$work/small"); large_d=$(dg "$work/large"); config_d=$(dg "$work/config")
cat >"$work/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config_d","size":$(stat -c %s "$work/config")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$small_d","size":$SMALL},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$large_d","size":$LARGE}]}
JSON

wait_up() {
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://$1/v2/" && return 0
		sleep 0.1
	done
	echo "bench/hub.sh: nothing answers on $1" >&2
	exit 1
}

push() { # base file digest
	local loc
	loc=$(curl -fsS -D - -o /dev/null -X POST "$1/v2/bench/app/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
	case "$loc" in http*) ;; *) loc="$1$loc" ;; esac
	case "$loc" in *\?*) loc="$loc&digest=$3" ;; *) loc="$loc?digest=$3" ;; esac
	curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$2" "$loc"
}

populate() { # base
	push "$1" "$work/config" "$config_d"
	push "$1" "$work/small" "$small_d"
	push "$1" "$work/large" "$large_d"
	curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/manifest" "$1/v2/bench/app/manifests/latest"
}

# berth hub
bport=$(free_port)
"$work/berth" hub serve --open --no-seed --gc-interval 0 --analysis-workers 0 --addr "127.0.0.1:$bport" --root "$work/berth-root" >"$work/berth.log" 2>&1 &
pids+=($!)
# distribution, with its in-memory blob descriptor cache: its best setup
dport=$(free_port)
cat >"$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry-root
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$dport
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
wait_up "127.0.0.1:$bport"
wait_up "127.0.0.1:$dport"
populate "http://127.0.0.1:$bport"
populate "http://127.0.0.1:$dport"

rps() { # url [header]
	local out
	if [ -n "${2:-}" ]; then
		out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" -H "$2" "$1")
	else
		out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" "$1")
	fi
	if echo "$out" | grep -q "Non-2xx"; then
		echo "bench/hub.sh: errors from $1:" >&2
		echo "$out" >&2
		exit 1
	fi
	echo "$out" | awk '/Requests\/sec/{print $2}'
}

accept='Accept: application/vnd.oci.image.manifest.v1+json'
printf '%-26s %14s %14s %8s %6s\n' "request" "berth req/s" "distrib req/s" "ratio" "goal"
row() { # name path goal [header]
	local b d
	b=$(rps "http://127.0.0.1:$bport$2" "${4:-}")
	d=$(rps "http://127.0.0.1:$dport$2" "${4:-}")
	printf '%-26s %14.0f %14.0f %7.2fx %5sx\n' "$1" "$b" "$d" "$(echo "$b / $d" | bc -l)" "$3"
}
row "manifest GET by tag" "/v2/bench/app/manifests/latest" 5 "$accept"
row "small blob GET ($SMALL B)" "/v2/bench/app/blobs/$small_d" 5
row "large blob GET ($((LARGE >> 20)) MiB)" "/v2/bench/app/blobs/$large_d" 1

echo
echo "search over 100,000 repositories (in-memory index, one core):"
(cd "$here" && go test ./hub/search/ -run 'TestSearchLatency100k' -count=1 -v 2>&1 | grep -o 'search over.*' || true)
