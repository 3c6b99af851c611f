package sbom

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// stanza is one paragraph of a deb822-style file: "Field: value" lines,
// continuation lines starting with a space or tab.
type stanza map[string]string

// parseStanzas splits a dpkg status file into paragraphs. It fails on the
// first line that is neither a field nor a continuation, naming its number,
// so a damaged database is reported rather than half-read.
func parseStanzas(b []byte) ([]stanza, error) {
	if !utf8.Valid(b) && bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("not a text file")
	}
	var out []stanza
	cur := stanza{}
	last := ""
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur = stanza{}
			}
			last = ""
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation line outside a field", n+1)
			}
			cur[last] += "\n" + strings.TrimSpace(line)
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return nil, fmt.Errorf("line %d: malformed field %q", n+1, truncate(line, 40))
			}
			last = k
			cur[k] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
