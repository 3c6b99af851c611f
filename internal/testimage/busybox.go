package testimage

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// BusyboxPath is where Debian's busybox-static installs the static busybox.
const BusyboxPath = "/bin/busybox"

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
