# Shared by the bench scripts: a private dockerd, timing, medians.

# start_dockerd DIR [DOCKERD_ARGS...]: a dockerd with its data on DIR's
# filesystem, as DESIGN.md says; extra arguments go to dockerd (e.g. -b BRIDGE,
# so it does not share docker0 with another daemon on the machine).
start_dockerd() {
	local dir=$1
	shift
	mkdir -p "$dir"
	DOCKER_HOST="unix://$dir/d.sock"
	export DOCKER_HOST
	dockerd --iptables=false --ip-forward=false --ip-masq=false \
		--data-root "$dir/root" --exec-root "$dir/exec" --pidfile "$dir/d.pid" \
		-H "$DOCKER_HOST" "$@" >"$dir/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	for _ in $(seq 100); do
		docker version >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "dockerd did not start; see $dir/dockerd.log" >&2
	return 1
}

stop_dockerd() {
	[ -n "${DOCKERD_PID:-}" ] && kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null || true
}

# settle: flush dirty pages and let the shared disk calm down between runs.
settle() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	sleep "${SETTLE:-2}"
}

# seconds CMD...: runs CMD, prints its wall time in seconds.
seconds() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# fresh_fs IMG MNT [SIZE]: a new, empty ext4 filesystem mounted at MNT. ext4
# makes file creation slow for minutes after many deletions (it scans
# recently deleted inodes), so each timed run gets a filesystem of its own.
fresh_fs() {
	local img=$1 mnt=$2 size=${3:-8G}
	mountpoint -q "$mnt" && umount "$mnt"
	mkdir -p "$mnt"
	rm -f "$img"
	truncate -s "$size" "$img"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img"
	mount -o loop "$img" "$mnt"
}
