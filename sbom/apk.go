package sbom

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strings"
)

// parseApkInstalled reads /lib/apk/db/installed: blank-line separated
// records of "X:value" lines (P name, V version, A arch, L license, o origin,
// F a directory and R a file in it that the package owns).
func parseApkInstalled(b []byte) ([]Package, []string, error) {
	var out []Package
	var owned []string
	dir := ""
	var cur *Package
	flush := func() {
		if cur != nil && cur.Name != "" {
			out = append(out, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			return nil, nil, fmt.Errorf("line %d: malformed record %q", n, truncate(line, 40))
		}
		if cur == nil {
			cur = &Package{Type: TypeAPK}
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'L':
			if v != "" {
				cur.Licenses = []string{v}
			}
		case 'o':
			cur.Source = v
		case 'F':
			dir = v
		case 'R':
			owned = append(owned, path.Join("/", dir, v))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	flush()
	for _, p := range out {
		if p.Version == "" {
			return nil, nil, fmt.Errorf("package %s has no version", p.Name)
		}
	}
	return out, owned, nil
}
