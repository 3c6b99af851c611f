package seed

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/image"
)

// untar lists a gzip layer's entries as name -> typeflag/linkname/content.
func untar(t *testing.T, gz []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(h.Typeflag) + "|" + h.Linkname + "|" + string(b)
	}
}

func TestWelcome(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "berth")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bb := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(bb, []byte("fake busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	im, warn, err := Welcome(WelcomeOptions{Executable: exe, Busybox: bb})
	if err != nil || warn != "" {
		t.Fatalf("Welcome: %v %q", err, warn)
	}
	p, err := image.ParseManifest(im.MediaType, im.Manifest)
	if err != nil || p.Manifest == nil || len(p.Manifest.Layers) != 3 || digest.FromBytes(im.Manifest) != im.Digest {
		t.Fatalf("manifest: %v %+v", err, p)
	}
	cfg, err := image.ParseConfig(im.Config.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RootFS.DiffIDs) != 3 || len(cfg.History) != 5 || cfg.OS != "linux" ||
		cfg.Config.Cmd[0] != "/usr/local/bin/welcome" || len(cfg.Config.ExposedPorts) != 1 {
		t.Fatalf("config: %+v", cfg)
	}
	for i, l := range im.Layers {
		if digest.FromBytes(l.Data) != l.Digest || int64(len(l.Data)) != l.Size {
			t.Fatalf("layer %d descriptor does not match its data", i)
		}
		zr, _ := gzip.NewReader(bytes.NewReader(l.Data))
		raw, _ := io.ReadAll(zr)
		if digest.FromBytes(raw) != cfg.RootFS.DiffIDs[i] {
			t.Fatalf("layer %d diffID mismatch", i)
		}
	}
	busybox := untar(t, im.Layers[0].Data)
	if busybox["bin/busybox"] != "0||fake busybox" || busybox["bin/sh"] != "2|busybox|" {
		t.Fatalf("busybox layer: %q %q", busybox["bin/busybox"], busybox["bin/sh"])
	}
	if w := untar(t, im.Layers[1].Data)["usr/local/bin/welcome"]; !strings.Contains(w, "echo hi") {
		t.Fatalf("welcome layer: %q", w)
	}
	if !strings.Contains(cfg.History[1].CreatedBy, "COPY welcome /usr/local/bin/") {
		t.Fatalf("history: %+v", cfg.History)
	}

	// Without busybox: two layers and a warning, not a failure.
	im, warn, err = Welcome(WelcomeOptions{Executable: exe, Busybox: filepath.Join(t.TempDir(), "none")})
	if err != nil || !strings.Contains(warn, "busybox") || len(im.Layers) != 2 {
		t.Fatalf("without busybox: %v %q %d layers", err, warn, len(im.Layers))
	}
	if _, _, err := Welcome(WelcomeOptions{}); err == nil {
		t.Fatal("Welcome without an executable succeeded")
	}
}
