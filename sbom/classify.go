package sbom

import (
	"io/fs"
	"path"
	"strings"
)

// kind is what a candidate file may describe, judged by its path and mode
// alone, before any of its bytes are read.
type kind uint8

const (
	kindNone kind = iota
	kindOSRelease
	kindDpkgStatus
	kindApk
	kindRpmDB
	kindPython
	kindNode
	kindJar
	kindExec // an executable: kept only if it is an ELF Go or Rust binary
	kindDebCopyright
	kindDpkgFiles // a dpkg .list or .md5sums file: which paths a package owns
)

// rpmDBPaths are where rpm keeps its database: BerkeleyDB Packages (RHEL ≤ 8,
// CentOS), NDB Packages.db (SUSE), SQLite rpmdb.sqlite (RHEL 9, Fedora ≥ 33).
var rpmDBPaths = map[string]bool{
	"var/lib/rpm/Packages":              true,
	"var/lib/rpm/Packages.db":           true,
	"var/lib/rpm/rpmdb.sqlite":          true,
	"usr/lib/sysimage/rpm/Packages":     true,
	"usr/lib/sysimage/rpm/Packages.db":  true,
	"usr/lib/sysimage/rpm/rpmdb.sqlite": true,
}

var jarExts = map[string]bool{".jar": true, ".war": true, ".ear": true, ".jpi": true, ".hpi": true, ".par": true, ".sar": true, ".nar": true}

// classify decides from a regular file's clean, relative path and mode
// whether the file is worth reading.
func classify(p string, mode fs.FileMode) kind {
	switch p {
	case "etc/os-release", "usr/lib/os-release":
		return kindOSRelease
	case "var/lib/dpkg/status":
		return kindDpkgStatus
	case "lib/apk/db/installed":
		return kindApk
	}
	if rpmDBPaths[p] {
		return kindRpmDB
	}
	dir, base := path.Split(p)
	if base == "copyright" && strings.HasPrefix(dir, "usr/share/doc/") && strings.Count(dir, "/") == 4 {
		return kindDebCopyright
	}
	if (dir == "var/lib/dpkg/info/" && strings.HasSuffix(base, ".list")) ||
		(dir == "var/lib/dpkg/status.d/" && strings.HasSuffix(base, ".md5sums")) {
		return kindDpkgFiles
	}
	if dir == "var/lib/dpkg/status.d/" && !strings.HasSuffix(base, ".md5sums") && !strings.HasPrefix(base, ".") {
		return kindDpkgStatus
	}
	switch {
	case base == "METADATA" && strings.HasSuffix(dir, ".dist-info/"):
		return kindPython
	case base == "PKG-INFO" && strings.HasSuffix(dir, ".egg-info/"):
		return kindPython
	case strings.HasSuffix(base, ".egg-info"):
		return kindPython
	case base == "package.json":
		return kindNode
	case jarExts[strings.ToLower(path.Ext(base))]:
		return kindJar
	}
	if mode&0o111 != 0 {
		return kindExec
	}
	return kindNone
}
