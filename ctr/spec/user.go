package spec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/errdefs"
)

// ResolveUser turns a Docker user ("name", "uid", "name:group", "uid:gid",
// ...) into ids, reading /etc/passwd and /etc/group of the container root.
// The files are opened inside root: a symlink in the image cannot make berth
// read the host's files. Rules as runc's (and Docker's): an unknown numeric
// user or group is used as it is, an unknown name is an error, and a user
// named without a group gets its passwd group plus every group that lists it.
func ResolveUser(root, userSpec string) (specs.User, error) {
	if userSpec == "" {
		userSpec = "0"
	}
	name, group, hasGroup := strings.Cut(userSpec, ":")
	passwd, err := readInRoot(root, "/etc/passwd")
	if err != nil {
		return specs.User{}, err
	}
	u := specs.User{}
	uidArg, uidErr := parseID(name)
	matched := ""
	found := false
	for _, f := range entries(passwd, 7) {
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		if f[0] == name || (uidErr == nil && uid == uidArg) {
			u.UID, u.GID, matched, found = uid, gid, f[0], true
			break
		}
	}
	if !found {
		if uidErr != nil {
			return specs.User{}, errdefs.Newf(errdefs.ErrInvalid, "unable to find user %s: no matching entries in passwd file", name)
		}
		u.UID = uidArg
	}
	if hasGroup || matched != "" {
		groups, err := readInRoot(root, "/etc/group")
		if err != nil {
			return specs.User{}, err
		}
		gidArg, gidErr := parseID(group)
		var sgids []uint32
		gfound := false
		for _, f := range entries(groups, 4) {
			gid, err := parseID(f[2])
			if err != nil {
				continue
			}
			if hasGroup {
				if f[0] == group || (gidErr == nil && gid == gidArg) {
					u.GID, gfound = gid, true
					break
				}
				continue
			}
			for _, member := range strings.Split(f[3], ",") {
				if member == matched {
					sgids = append(sgids, gid)
					break
				}
			}
		}
		if hasGroup && !gfound {
			if gidErr != nil {
				return specs.User{}, errdefs.Newf(errdefs.ErrInvalid, "unable to find group %s: no matching entries in group file", group)
			}
			u.GID = gidArg
		}
		u.AdditionalGids = append([]uint32{u.GID}, sgids...)
	} else {
		u.AdditionalGids = []uint32{u.GID}
	}
	return u, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("id %d out of range", n)
	}
	return uint32(n), nil
}

// entries splits colon-separated lines, padding each to n fields.
func entries(data string, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, ":", n)
		for len(f) < n {
			f = append(f, "")
		}
		out = append(out, f)
	}
	return out
}

// maxUserFile bounds what is read of an image's passwd and group files.
const maxUserFile = 4 << 20

// readInRoot reads a file resolved inside root, "" when it does not exist.
func readInRoot(root, path string) (string, error) {
	f, err := pathrs.OpenInRoot(root, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("open %s in container: %w", path, err)
	}
	defer f.Close()
	// A FIFO or device would block or lie: only a regular file is read.
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", errdefs.Newf(errdefs.ErrInvalid, "%s in container is not a regular file", path)
	}
	// OpenInRoot gives an O_PATH handle; reopen it to read.
	rf, err := pathrs.Reopen(f, 0)
	if err != nil {
		return "", fmt.Errorf("open %s in container: %w", path, err)
	}
	defer rf.Close()
	data, err := io.ReadAll(io.LimitReader(rf, maxUserFile))
	if err != nil {
		return "", fmt.Errorf("read %s in container: %w", path, err)
	}
	return string(data), nil
}
