// Package ctr runs berth's containers: daemonless, with runc, overlayfs
// and no iptables. The engine and the CLI drive it through a Manager rooted
// at a directory ($BERTH_ROOT/containers); every call works from the files
// there, so any number of berth processes may use it at once.
//
// # Model
//
// A container is created (Create: the image's config merged with the
// user's options as Docker merges them, a name, a directory, its volumes),
// then started (Start), which mounts its root filesystem (an overlay of the
// image's layer directories under its own upper directory), gives it a
// network namespace on the berth bridge, writes an OCI bundle and hands it
// to a shim: berth itself re-executed (ShimMain), in its own session, which
// runs `runc run --detach`, becomes the parent of the container's first
// process, and for as long as it runs owns its stdio and pty, writes its
// json-file log, serves its published ports and its exec sessions, and
// finally records the exit and tears the container down. The shim outlives
// the command that started it; clients reach it on a unix socket in the
// container's directory (attach, exec, kill, wait).
//
// State lives in the container's record (container.json, written atomically
// under the container's lock). A record that says running is checked
// against its shim (pid, start time and boot ID): if the shim died, or the
// host rebooted, the container is killed if it still runs, cleaned up, and
// shows as exited; it can be started again.
//
// A berth killed at any moment leaves nothing broken (reap.go): a
// container appears whole or not at all, since it is made in a locked
// directory and renamed into place, and removed by renaming it away first;
// what a killed create, start or removal leaves is found by its free lock
// and cleaned up by List (every ps, rmi, df) or Reap (container prune,
// system check).
//
// # On disk
//
//	<dir>/<id>/container.json   the record
//	<dir>/<id>/lock             taken across every change of state
//	<dir>/<id>/config.json      the OCI runtime config, written at each start
//	<dir>/<id>/rootfs/          the overlay mount while running
//	<dir>/<id>/upper/, work/    the container's writable layer (an --rm
//	                            container's is a volatile overlay: no syncs)
//	<dir>/<id>/unsynced         an --rm container's: its record is not synced
//	<dir>/<id>/mounts/<n>       bind sources pinned for runc (see stageBind)
//	<dir>/<id>/hosts, hostname, resolv.conf
//	<dir>/<id>/container.log    the json-file log
//	<dir>/<id>/shim.sock        the shim's socket; shim.log its own errors
//	<dir>/.names/<name>         symlink to the ID: a name is taken atomically
//	<dir>/.mk-<id>.<pid>.<start>, .new-<id>
//	                            a container being made (see reap.go)
//	<dir>/.rm-<id>              a container being removed
//	<volumes>/<name>/_data      volumes (package volume), beside <dir>
//	/run/berth/                 per boot: runc state, network namespaces,
//	                            address allocations, console sockets
//
// # Use
//
// Only the engine uses this package; the CLI and the dashboard reach it
// through the engine's container methods, which keep the engine's records
// in step. `berth run IMAGE CMD` is Create, then Start with Streams
// (attached from the first byte), then Session.Wait for the exit code; the
// CLI readies its terminal and forwards signals with internal/term around
// the Session. `run -d` is Start with nil Streams. ps is List (StatusText,
// PortsText, Command give Docker's columns); port is
// NetworkSettings.Ports; logs is Logs; exec is Exec; stop, kill, restart,
// wait, rm and container prune are Stop, Kill, Restart, Wait, Remove and
// Prune; volume commands use Volumes(), CreateVolume, RemoveVolume and
// PruneVolumes. Errors are errdefs kinds (matched with errors.Is) worded
// as Docker words them; a command that cannot start is
// errdefs.ErrCommandNotFound (exit 127) or ErrCommandNotExecutable (exit
// 126).
package ctr
