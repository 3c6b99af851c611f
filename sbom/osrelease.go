package sbom

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// parseOSRelease reads os-release(5): KEY=value lines, values optionally
// quoted with shell quoting.
func parseOSRelease(b []byte) *Distro {
	d := &Distro{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = unquote(v)
		switch k {
		case "ID":
			d.ID = v
		case "VERSION_ID":
			d.VersionID = v
		case "VERSION_CODENAME":
			d.VersionCodename = v
		case "PRETTY_NAME":
			d.PrettyName = v
		case "ID_LIKE":
			d.IDLike = strings.Fields(v)
		}
	}
	if d.ID == "" {
		d.ID = "linux" // os-release(5)'s default
	}
	return d
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
		return strings.Trim(v, `"`)
	}
	return v
}
