#!/usr/bin/env bash
# bench/fuzz.sh: runs every native Go fuzz target in the repository (each
# `func FuzzXxx(f *testing.F)` in a _test.go file), one at a time, for
# FUZZTIME each, and prints a table: target, executions, new interesting
# inputs, crashers. Not part of `make test`: it takes FUZZTIME per target.
#
#   bench/fuzz.sh                       (10 minutes per target)
#   FUZZTIME=30s bench/fuzz.sh          (a quick pass)
#   FUZZONLY='^(archive|store)\.' FUZZSKIP='^hub/' bench/fuzz.sh
#
# FUZZONLY / FUZZSKIP are extended regexps matched against "pkg.FuzzName"
# (pkg relative to the repository, e.g. "registry/client.FuzzSearch").
# FUZZPARALLEL sets the fuzzing workers per target (go's default: GOMAXPROCS).
# FUZZMINIMIZETIME bounds the minimizing of each new interesting input
# (default 3s; go's is 60s, which a target of ~100 execs/s that writes files,
# as archive.FuzzApply, spends in minimizing alone: its executions are not
# counted in "execs").
# A crasher is written by go test to <pkg>/testdata/fuzz/<FuzzName>/, where
# it becomes a regression test of `go test` once committed; each target's
# whole output is kept under the log directory printed at the end.
set -euo pipefail

FUZZTIME=${FUZZTIME:-10m}
FUZZONLY=${FUZZONLY:-}
FUZZSKIP=${FUZZSKIP:-}
FUZZPARALLEL=${FUZZPARALLEL:-}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-3s}

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
logs=$(mktemp -d /tmp/berth-fuzz.XXXXXX)

# pkg.FuzzName for every target, sorted; vendored and web dependencies are
# not ours to fuzz.
targets=$(grep -rEo --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.git --exclude-dir=testdata \
	'^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
	sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1.\2#' | sort -u)

par=()
[[ -n $FUZZPARALLEL ]] && par=(-parallel "$FUZZPARALLEL")

rows=()
failed=0
for t in $targets; do
	[[ -n $FUZZONLY && ! $t =~ $FUZZONLY ]] && continue
	[[ -n $FUZZSKIP && $t =~ $FUZZSKIP ]] && continue
	pkg=${t%.*}
	name=${t##*.}
	log="$logs/${pkg//\//_}.$name.log"
	echo "fuzzing $t for $FUZZTIME ..." >&2
	status=ok
	# -run '^$': only the fuzz target runs (its seed corpus first), no
	# other test of the package. The fuzz engine itself stops an input
	# that hangs; -timeout 0 keeps a long FUZZTIME from being cut.
	if ! go test "./$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" -timeout 0 "${par[@]}" >"$log" 2>&1; then
		status=FAIL
		failed=1
	fi
	last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -1 || true)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	newint=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
	crashers=$(grep -c 'Failing input written to' "$log" || true)
	rows+=("$(printf '%-45s %12s %16s %9s  %s' "$t" "${execs:-0}" "${newint:-0}" "$crashers" "$status")")
done

printf '%-45s %12s %16s %9s  %s\n' target execs "new interesting" crashers status
for r in "${rows[@]}"; do echo "$r"; done
echo "logs: $logs" >&2
grep -h 'Failing input written to' "$logs"/*.log 2>/dev/null >&2 || true
exit "$failed"
