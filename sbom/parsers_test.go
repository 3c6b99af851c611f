package sbom_test

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/sbomtest"
)

func inventory(t *testing.T, layers ...*sbomtest.Layer) *sbom.SBOM {
	t.Helper()
	var ls []sbom.Layer
	for _, l := range layers {
		ls = append(ls, l)
	}
	got, err := sbom.Inventory(context.Background(), ls)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func summary(s *sbom.SBOM) string {
	var out []string
	for _, p := range s.Packages {
		e := string(p.Type) + ":" + p.Name + "@" + p.Version
		if p.Source != "" {
			e += "<" + p.Source
			if p.SourceVersion != "" {
				e += "@" + p.SourceVersion
			}
		}
		if len(p.Licenses) > 0 {
			e += "[" + strings.Join(p.Licenses, ",") + "]"
		}
		out = append(out, e)
	}
	return strings.Join(out, " ")
}

func TestParsers(t *testing.T) {
	jar := makeZip(t, map[string]string{
		"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nImplementation-Title: ignored\r\nBundle-License: Apache-2.0\r\n\r\n",
		"META-INF/maven/org.apache.commons/commons-text/pom.properties": "#Generated\ngroupId=org.apache.commons\nartifactId=commons-text\nversion=1.9\n",
	})
	fatJar := makeZip(t, map[string]string{
		"META-INF/MANIFEST.MF":              "Manifest-Version: 1.0\nImplementation-Title: app\nImplementation-Version: 0.1.0\n",
		"BOOT-INF/lib/commons-text-1.9.jar": string(jar),
		"BOOT-INF/lib/plain-lib-2.3.1.jar":  string(makeZip(t, map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"})),
		"BOOT-INF/classes/app/Main.class":   "\xca\xfe\xba\xbe",
	})
	tests := []struct {
		name  string
		layer *sbomtest.Layer
		want  string
	}{
		{"dpkg status skips packages not installed", sbomtest.NewLayer(sbomtest.File("var/lib/dpkg/status", []byte(
			"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\nSource: glibc\nArchitecture: amd64\nDescription: GNU C Library\n shared libraries\n .\n more\n\n"+
				"Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"+
				"Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2+b1\nSource: openssl (3.0.11-1~deb12u2)\n"))),
			"deb:libc6@2.36-9+deb12u4<glibc deb:libssl3@3.0.11-1~deb12u2+b1<openssl@3.0.11-1~deb12u2"},
		{"dpkg licenses from copyright files", sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status", []byte("Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n")),
			sbomtest.File("usr/share/doc/libc6/copyright", []byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: FSF\nLicense: LGPL-2.1+\n\nFiles: debian/*\nLicense: GPL-2+\n\nLicense: LGPL-2.1+\n text\n")),
			sbomtest.File("usr/share/doc/bash/copyright", []byte("Bash is free software; see /usr/share/common-licenses/GPL-3.\n"))),
			"deb:bash@5.2.15-2+b2[GPL-3] deb:libc6@2.36-9[GPL-2+,LGPL-2.1+]"},
		{"distroless status.d", sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status.d/base", []byte("Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n")),
			sbomtest.File("var/lib/dpkg/status.d/base.md5sums", []byte("d41d8cd98f00b204e9800998ecf8427e  etc/issue\n")),
			sbomtest.File("var/lib/dpkg/status.d/tzdata", []byte("Package: tzdata\nVersion: 2024a-0+deb12u1\n"))),
			"deb:base-files@12.4+deb12u5 deb:tzdata@2024a-0+deb12u1"},
		{"apk", sbomtest.NewLayer(sbomtest.File("lib/apk/db/installed", []byte(
			"C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nL:MIT\no:musl\nt:1700000000\n\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\nL:Apache-2.0\no:openssl\n"))),
			"apk:libcrypto3@3.1.4-r5<openssl[Apache-2.0] apk:musl@1.2.4_git20230717-r4<musl[MIT]"},
		{"python dist-info, egg-info dir and egg-info file", sbomtest.NewLayer(
			sbomtest.File("usr/lib/python3.11/site-packages/Flask-2.3.2.dist-info/METADATA", []byte("Metadata-Version: 2.1\nName: Flask\nVersion: 2.3.2\nClassifier: License :: OSI Approved :: BSD License\n\nbody\n")),
			sbomtest.File("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", []byte("Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\nLicense: MIT\n")),
			sbomtest.File("usr/lib/python3/dist-packages/chardet-5.1.0.egg-info", []byte("Metadata-Version: 2.1\nName: chardet\nVersion: 5.1.0\nLicense-Expression: LGPL-2.1-or-later\n"))),
			"pypi:Flask@2.3.2[BSD License] pypi:chardet@5.1.0[LGPL-2.1-or-later] pypi:six@1.16.0[MIT]"},
		{"node", sbomtest.NewLayer(
			sbomtest.File("app/node_modules/@babel/core/package.json", []byte(`{"name":"@babel/core","version":"7.23.0","license":"MIT"}`)),
			sbomtest.File("app/node_modules/old/package.json", []byte(`{"name":"old","version":"0.0.1","licenses":[{"type":"BSD"},{"type":"GPL"}]}`)),
			sbomtest.File("app/node_modules/resolve/test/fixture/package.json", []byte(`{"main":"x.js"}`))),
			"npm:@babel/core@7.23.0[MIT] npm:old@0.0.1[BSD,GPL]"},
		{"jar with pom.properties", sbomtest.NewLayer(sbomtest.File("opt/lib/commons-text-1.9.jar", jar)),
			"maven:org.apache.commons:commons-text@1.9[Apache-2.0]"},
		{"fat jar, nested one level", sbomtest.NewLayer(sbomtest.File("app/app.jar", fatJar)),
			"maven:app@0.1.0 maven:org.apache.commons:commons-text@1.9[Apache-2.0] maven:plain-lib@2.3.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := inventory(t, tc.layer)
			if len(got.Warnings) > 0 {
				t.Errorf("warnings: %v", got.Warnings)
			}
			if s := summary(got); s != tc.want {
				t.Errorf("got  %s\nwant %s", s, tc.want)
			}
		})
	}
}

func makeZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A Rust binary built with cargo-auditable carries its dependency list in
// a .dep-v0 section; objcopy adds one to a real ELF executable.
func TestCargoAuditable(t *testing.T) {
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Skip("objcopy (binutils) is needed to add a .dep-v0 section to an ELF file")
	}
	dir := t.TempDir()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(`{"packages":[{"name":"myapp","version":"0.1.0","source":"local","root":true,"dependencies":[1]},{"name":"serde","version":"1.0.193","source":"crates.io"}]}`))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "deps"), z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	trueBin, err := exec.LookPath("true")
	if err != nil {
		trueBin = self
	}
	out := filepath.Join(dir, "myapp")
	if b, err := exec.Command(objcopy, "--add-section", ".dep-v0="+filepath.Join(dir, "deps"), trueBin, out).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, b)
	}
	body, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := inventory(t, sbomtest.NewLayer(sbomtest.Exec("usr/bin/myapp", body)))
	if s := summary(got); s != "cargo:myapp@0.1.0 cargo:serde@1.0.193" {
		t.Errorf("got %s", s)
	}
}

// Damaged databases and archives are warnings naming the file and layer;
// everything else in the image is still reported.
func TestMalformedFilesAreWarnings(t *testing.T) {
	got := inventory(t,
		sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status", []byte("Package: ok\nVersion: 1\n\nthis is not a field\n")),
			sbomtest.File("lib/apk/db/installed", []byte("P:musl\nV:1.2.4-r2\n\nnot apk\n")),
			sbomtest.File("opt/broken.jar", []byte("PK\x03\x04 truncated")),
			sbomtest.File("app/node_modules/bad/package.json", []byte(`{"name": "bad", "version": `)),
			sbomtest.File("usr/lib/python3/site-packages/x-1.dist-info/METADATA", []byte("Metadata-Version: 2.1\n\n")),
			sbomtest.File("var/lib/rpm/rpmdb.sqlite", []byte("SQLite format 3\x00 but then garbage")),
			sbomtest.File("app/node_modules/good/package.json", []byte(`{"name":"good","version":"2.0.0"}`)),
		),
		sbomtest.NewLayer(
			sbomtest.File("var/lib/dpkg/status.d/tzdata", []byte("Package: tzdata\nVersion: 2024a-0+deb12u1\n")),
			sbomtest.File("app/fat.jar", makeZip(t, map[string]string{
				"WEB-INF/lib/broken-1.0.jar":        "not a zip",
				"META-INF/maven/g/a/pom.properties": "groupId=g\nartifactId=a\nversion=3\n",
			})),
		),
	)
	if s := summary(got); s != "maven:g:a@3 npm:good@2.0.0 deb:tzdata@2024a-0+deb12u1" {
		t.Errorf("packages: %s", s)
	}
	want := map[string]string{
		"/var/lib/dpkg/status":                                  "line 4: malformed field",
		"/lib/apk/db/installed":                                 "line 4: malformed record",
		"/opt/broken.jar":                                       "java archive",
		"/app/node_modules/bad/package.json":                    "package.json",
		"/usr/lib/python3/site-packages/x-1.dist-info/METADATA": "no Name or Version",
		"/var/lib/rpm/rpmdb.sqlite":                             "rpm database",
		"/app/fat.jar!/WEB-INF/lib/broken-1.0.jar":              "zip",
	}
	if len(got.Warnings) != len(want) {
		t.Errorf("got %d warnings, want %d: %v", len(got.Warnings), len(want), got.Warnings)
	}
	for _, w := range got.Warnings {
		sub, ok := want[w.Path]
		if !ok {
			t.Errorf("unexpected warning %s", w)
			continue
		}
		if !strings.Contains(w.Err, sub) {
			t.Errorf("warning %s does not say %q", w, sub)
		}
		wantLayer := 0
		if strings.HasPrefix(w.Path, "/app/fat.jar") {
			wantLayer = 1
		}
		if w.Layer != wantLayer {
			t.Errorf("warning %s: layer %d, want %d", w, w.Layer, wantLayer)
		}
	}
}

// A layer stream that breaks off is a warning; earlier entries still count.
func TestTruncatedLayer(t *testing.T) {
	l := sbomtest.NewLayer(
		sbomtest.File("lib/apk/db/installed", []byte("P:musl\nV:1.2.4-r2\n")),
		sbomtest.File("big", bytes.Repeat([]byte("x"), 10000)),
	)
	l.Tar = l.Tar[:4000] // inside the data of "big"
	got := inventory(t, l)
	if summary(got) != "apk:musl@1.2.4-r2" {
		t.Errorf("packages: %s", summary(got))
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0].Path, "layer sha256:") {
		t.Errorf("warnings: %v", got.Warnings)
	}
}
