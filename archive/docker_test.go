package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/dockertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.Stop()
	os.Exit(code)
}

// dockerArchive wraps one layer into an archive `docker load` reads.
func dockerArchive(t *testing.T, tag string, layer []byte) []byte {
	t.Helper()
	diffID := fmt.Sprintf("sha256:%x", sha256.Sum256(layer))
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	manifest, _ := json.Marshal([]map[string]any{{
		"Config":   "config.json",
		"RepoTags": []string{tag},
		"Layers":   []string{"layer/layer.tar"},
	}})
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range []struct {
		name string
		data []byte
	}{{"config.json", config}, {"layer/layer.tar", layer}, {"manifest.json", manifest}} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Size: int64(len(f.data)), Mode: 0o644})
		tw.Write(f.data)
	}
	tw.Close()
	return b.Bytes()
}

// TestSizeAgreesWithDocker loads crafted layers into a real dockerd (20.10, overlay2)
// and compares the image size it reports with Result.Size for the same tar. (A tar
// naming one path twice is not among them: Docker refuses it, "duplicates of file
// paths not supported"; berth applies it, the last entry winning.)
func TestSizeAgreesWithDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: starts a real dockerd")
	}
	d := dockertest.Shared(t)
	var many []entry
	for i := range 300 {
		many = append(many, reg(fmt.Sprintf("usr/share/doc/p%d/f%d", i%17, i), strings.Repeat("z", i*37%5000)))
		if i%10 == 0 {
			many = append(many, sym(fmt.Sprintf("usr/share/doc/p%d/s%d", i%17, i), strings.Repeat("t", i%90+1)))
			many = append(many, hlink(fmt.Sprintf("usr/share/doc/p%d/h%d", i%17, i), fmt.Sprintf("usr/share/doc/p%d/f%d", i%17, i)))
		}
	}
	tests := []struct {
		name string
		ents []entry
	}{
		{"files symlinks and hardlinks", []entry{
			dir("etc/"), reg("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"), reg("etc/empty", ""),
			sym("etc/localtime", "/usr/share/zoneinfo/UTC"), sym("lib64", "usr/lib64"),
			reg("bin/busybox", strings.Repeat("b", 12345), mode(0o755)), hlink("bin/sh", "bin/busybox"), hlink("bin/ls", "bin/busybox"),
		}},
		{"a directory replaced by a file", []entry{reg("d/a", "aaaa"), reg("d/b", "bb"), reg("d", "x")}},
		{"whiteouts opaque dirs and a fifo", []entry{reg(".wh.gone", ""), dir("o/"), reg("o/.wh..wh..opq", ""), reg("o/kept", "kept"), dev(tar.TypeFifo, "p", 0, 0)}},
		{"many files", many},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			layer := buildTar(t, tc.ents...)
			res := mustApply(t, t.TempDir(), Options{}, tc.ents...)
			tag := fmt.Sprintf("berth-size-test:%d", i)
			d.DockerIn(t, dockerArchive(t, tag, layer), "load")
			out := strings.TrimSpace(d.Docker(t, "image", "inspect", "--format", "{{.Size}}", tag))
			docker, err := strconv.ParseInt(out, 10, 64)
			if err != nil {
				t.Fatalf("docker image inspect: %q", out)
			}
			if res.Size != docker {
				t.Errorf("Result.Size = %d, Docker says %d", res.Size, docker)
			}
			d.Docker(t, "rmi", tag)
		})
	}
}
