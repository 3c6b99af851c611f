package sbom

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// maxNestedJar bounds a jar inside a jar (Spring Boot's BOOT-INF/lib, a
// war's WEB-INF/lib), which is read into memory to be opened.
const maxNestedJar = 128 << 20

// parseJar lists the Maven artifacts in a Java archive: one per
// META-INF/maven/**/pom.properties, or, when there is none, one from the
// manifest and the file name. Jars nested one level deep are read too; a
// damaged nested jar is a warning, not a failure of the outer one.
func parseJar(r io.ReaderAt, size int64, p string) ([]Package, []Warning, error) {
	return readJar(r, size, p, true)
}

func readJar(r io.ReaderAt, size int64, p string, descend bool) ([]Package, []Warning, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("java archive: %w", err)
	}
	var (
		pkgs     []Package
		warnings []Warning
		manifest map[string]string
		seen     = map[string]bool{}
	)
	for _, f := range zr.File {
		switch {
		case strings.HasPrefix(f.Name, "META-INF/maven/") && path.Base(f.Name) == "pom.properties":
			props, err := readZipText(f, 1<<20)
			if err != nil {
				return nil, warnings, fmt.Errorf("java archive: %s: %w", f.Name, err)
			}
			m := parseProperties(props)
			g, a, v := m["groupId"], m["artifactId"], m["version"]
			if a == "" || v == "" || seen[g+":"+a+":"+v] {
				continue
			}
			seen[g+":"+a+":"+v] = true
			pkgs = append(pkgs, Package{Name: mavenName(g, a), Version: v, Type: TypeMaven, Path: p})
		case f.Name == "META-INF/MANIFEST.MF":
			b, err := readZipText(f, 4<<20)
			if err != nil {
				return nil, warnings, fmt.Errorf("java archive: %s: %w", f.Name, err)
			}
			manifest = parseManifest(b)
		case descend && jarExts[strings.ToLower(path.Ext(f.Name))] && !f.FileInfo().IsDir():
			inner := p + "!/" + f.Name
			if f.UncompressedSize64 > maxNestedJar {
				warnings = append(warnings, Warning{Path: inner, Err: "nested archive too large"})
				continue
			}
			b, err := readZipText(f, maxNestedJar)
			if err != nil {
				warnings = append(warnings, Warning{Path: inner, Err: err.Error()})
				continue
			}
			sub, _, err := readJar(bytes.NewReader(b), int64(len(b)), inner, false)
			if err != nil {
				warnings = append(warnings, Warning{Path: inner, Err: err.Error()})
				continue
			}
			pkgs = append(pkgs, sub...)
		}
	}
	if len(pkgs) == 0 || allNested(pkgs, p) {
		if mp := manifestPackage(manifest, path.Base(p)); mp != nil {
			mp.Path = p
			pkgs = append(pkgs, *mp)
		}
	}
	if l := manifest["Bundle-License"]; l != "" {
		for i := range pkgs {
			if pkgs[i].Path == p {
				pkgs[i].Licenses = []string{l}
			}
		}
	}
	return pkgs, warnings, nil
}

func allNested(pkgs []Package, p string) bool {
	for _, q := range pkgs {
		if q.Path == p {
			return false
		}
	}
	return true
}

func mavenName(group, artifact string) string {
	if group == "" {
		return artifact
	}
	return group + ":" + artifact
}

// jarFileName splits "commons-lang3-3.12.0.jar" into name and version.
var jarFileName = regexp.MustCompile(`^(.+?)-(\d[\w.\-+]*)\.[a-zA-Z]+$`)

// manifestPackage describes a jar without pom.properties from its manifest,
// falling back to the version in its file name.
func manifestPackage(m map[string]string, file string) *Package {
	name := m["Implementation-Title"]
	version := m["Implementation-Version"]
	if name == "" {
		name = strings.TrimSpace(strings.Split(m["Bundle-SymbolicName"], ";")[0])
	}
	if version == "" {
		version = m["Bundle-Version"]
	}
	if fm := jarFileName.FindStringSubmatch(file); fm != nil {
		name = fm[1] // the artifact id, which is what advisories name
		if version == "" {
			version = fm[2]
		}
	}
	if name == "" || version == "" {
		return nil
	}
	return &Package{Name: mavenName(m["Implementation-Vendor-Id"], name), Version: version, Type: TypeMaven}
}

func readZipText(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

func parseProperties(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, _ = strings.Cut(line, ":")
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

// parseManifest reads the main section of a MANIFEST.MF; lines longer than
// 72 bytes continue on lines starting with one space.
func parseManifest(b []byte) map[string]string {
	m := map[string]string{}
	last := ""
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		if line == "" {
			break // end of the main section
		}
		if line[0] == ' ' && last != "" {
			m[last] += line[1:]
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		m[last] = strings.TrimSpace(v)
	}
	return m
}
