package sbom

import (
	"bytes"
	"io"
	"regexp"
	"strings"
)

// TypeBinary is a program recognised from its own bytes rather than from a
// package database: an interpreter or a runtime installed by hand (the
// official python and node images build theirs into /usr/local), or a
// static busybox. Such packages have "pkg:generic" package URLs.
const TypeBinary Type = "binary"

// classifier recognises one program by its file name and finds its version
// after a marker inside the file.
type classifier struct {
	name    string
	file    *regexp.Regexp
	marker  func(fileMatch []string) []byte
	version *regexp.Regexp // matched at the marker; group 1 is the version
}

var classifiers = []classifier{
	{
		// the interpreter carries its version as a NUL-terminated string;
		// the file name says which minor version to look for
		name:    "python",
		file:    regexp.MustCompile(`^python(\d+\.\d+)$`),
		marker:  func(m []string) []byte { return []byte("\x00" + m[1] + ".") },
		version: regexp.MustCompile(`^\x00(\d+\.\d+\.\d+[-._a-zA-Z0-9]*)\x00`),
	},
	{
		name:    "node",
		file:    regexp.MustCompile(`^node$`),
		marker:  func([]string) []byte { return []byte("node.js/v") },
		version: regexp.MustCompile(`^node\.js/v(\d+\.\d+\.\d+)`),
	},
	{
		name:    "busybox",
		file:    regexp.MustCompile(`^busybox$`),
		marker:  func([]string) []byte { return []byte("BusyBox v") },
		version: regexp.MustCompile(`^BusyBox v(\d+\.\d+\.\d+)`),
	},
}

// classifyBinary looks for a known program's version in an ELF executable
// that carries no build metadata. Files a package database owns are dropped
// later, in merge, as the database already reports their package.
func classifyBinary(r io.ReaderAt, size int64, base string) *Package {
	for _, c := range classifiers {
		m := c.file.FindStringSubmatch(base)
		if m == nil {
			continue
		}
		if v := findVersion(r, size, c.marker(m), c.version); v != "" {
			return &Package{Name: c.name, Version: v, Type: TypeBinary}
		}
	}
	return nil
}

// findVersion scans r in chunks for marker and matches re at the first hit
// that matches. Chunks overlap so a marker split between two is still seen.
func findVersion(r io.ReaderAt, size int64, marker []byte, re *regexp.Regexp) string {
	const chunk, overlap = 1 << 20, 256
	buf := make([]byte, chunk+overlap)
	for off := int64(0); off < size; off += chunk {
		n, err := r.ReadAt(buf, off)
		if n == 0 && err != nil {
			return ""
		}
		b := buf[:n]
		for i := 0; ; {
			j := bytes.Index(b[i:], marker)
			if j < 0 {
				break
			}
			i += j
			if m := re.FindSubmatch(b[i:min(len(b), i+128)]); m != nil {
				return strings.TrimRight(string(m[1]), ".-_")
			}
			i++
		}
	}
	return ""
}
