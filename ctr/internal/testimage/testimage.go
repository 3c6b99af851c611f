// Package testimage builds image layers for the runtime's tests without a
// registry: a busybox layer from the host's busybox-static, and small
// layers made in Go.
package testimage

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Busybox is the host's static busybox (Debian busybox-static).
const Busybox = "/bin/busybox"

// Passwd and Group are the layer's users: root, nobody, and app (1000).
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n"
	Group  = "root:x:0:\nnogroup:x:65534:\napp:x:1000:\naudio:x:29:app\n"
	// Index is /www/index.html.
	Index = "hello from berth\n"
)

// BusyboxLayer writes a busybox root filesystem into dir: the binary, a
// link per applet, /etc/passwd and /etc/group, and /www/index.html.
func BusyboxLayer(dir string) error {
	if _, err := os.Stat(Busybox); err != nil {
		return fmt.Errorf("%s missing (Debian package busybox-static): %w", Busybox, err)
	}
	for _, d := range []string{"bin", "etc", "www", "tmp", "root", "home/app", "proc", "sys", "dev", "var/log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Chown(filepath.Join(dir, "home/app"), 1000, 1000); err != nil {
		return err
	}
	data, err := os.ReadFile(Busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.ContainsAny(applet, "/[") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			return err
		}
	}
	files := map[string]string{"etc/passwd": Passwd, "etc/group": Group, "www/index.html": Index}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// FileLayer writes a layer holding the given files (name to content) into dir.
func FileLayer(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return os.MkdirAll(dir, 0o755)
}
