package testimage

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// BusyboxPath is where Debian's busybox-static installs the static busybox.
const BusyboxPath = "/bin/busybox"

// CannotRunContainers says why containers cannot run on this machine, or
// "" when they can: they need root, runc, and the static busybox the test
// images are made of.
func CannotRunContainers() string {
	if os.Geteuid() != 0 {
		return "containers need root: run these tests as root"
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := os.Stat("/usr/sbin/runc"); err != nil {
			return "runc is not installed (Debian package runc)"
		}
	}
	if _, err := os.Stat(BusyboxPath); err != nil {
		return "busybox is not installed (Debian package busybox-static)"
	}
	return ""
}

// Busybox builds a layer with the static busybox and a symlink per applet
// under /bin, enough for sh, httpd and nc. It fails when busybox-static is
// not installed (make test installs it).
func Busybox() ([]byte, error) {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("busybox-static is not installed (apt-get install busybox-static): %w", err)
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	files := []File{{Name: "bin/"}, {Name: "bin/busybox", Body: string(bin), Mode: 0o755}, {Name: "etc/"}, {Name: "tmp/", Mode: 0o1777},
		{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{Name: "etc/group", Body: "root:x:0:\nnogroup:x:65534:\n"}}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		files = append(files, File{Name: "bin/" + applet, Typeflag: '2', Linkname: "busybox"})
	}
	return Tar(files...), nil
}
