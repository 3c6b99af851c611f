package seed

import (
	"fmt"
	"os"

	"github.com/berth-dev/berth/image"
)

// WelcomeOptions say where the welcome image's programs come from.
type WelcomeOptions struct {
	// Executable is installed as /usr/local/bin/welcome: berth's own static
	// binary, which serves the welcome page when started under that name.
	Executable string
	// Busybox, if it exists, is installed as /bin/busybox with the usual
	// applets linked to it, so the image has a shell for exec. If it is
	// missing the image is built without it and Warning says so.
	Busybox string
}

// Applets linked to busybox in the welcome image.
var applets = []string{
	"sh", "ash", "ls", "cat", "echo", "ps", "top", "kill", "wget", "nc", "vi", "grep", "sed", "awk",
	"find", "mkdir", "rm", "cp", "mv", "ln", "chmod", "chown", "touch", "head", "tail", "sort", "uniq",
	"wc", "env", "id", "whoami", "hostname", "uname", "date", "sleep", "df", "du", "free", "mount",
	"pwd", "true", "false", "test", "less", "more", "tar", "gzip", "gunzip", "httpd", "ping", "ip",
	"ifconfig", "netstat", "printf", "which", "xargs", "tr", "cut", "basename", "dirname", "stat",
}

// WelcomeDescription is the repository's short description.
const WelcomeDescription = "Welcome to berth: a tiny web server that says hello on port 80"

// WelcomeFullDescription is the repository's full description (markdown).
const WelcomeFullDescription = `# welcome

The first image on every berth hub: a small web server that serves a
"welcome to berth" page on port 80, with busybox inside for a shell.

## Try it

` + "```" + `
berth pull welcome
berth run -d -p 0:80 --name hello welcome
berth port hello
berth exec -it hello sh
` + "```" + `

## What is inside

| layer | what |
|---|---|
| busybox | ` + "`/bin/busybox`" + ` and its applets (` + "`sh`, `ls`, `wget`" + ` ...) |
| welcome | berth's own static binary as ` + "`/usr/local/bin/welcome`" + ` |
| files | ` + "`/etc/passwd`" + `, ` + "`/etc/group`" + `, the page's text |
`

// Welcome builds library/welcome. warning is non-empty when the image had
// to be built without busybox.
func Welcome(o WelcomeOptions) (im Image, warning string, err error) {
	var layers []Layer
	if _, err := os.Stat(o.Busybox); o.Busybox != "" && err == nil {
		files := []File{{Name: "bin", Dir: true}, {Name: "bin/busybox", Source: o.Busybox, Mode: 0o755}}
		for _, a := range applets {
			files = append(files, File{Name: "bin/" + a, Link: "busybox"})
		}
		layers = append(layers, Layer{Files: files, CreatedBy: "COPY busybox /bin/ # berth"})
	} else {
		warning = fmt.Sprintf("no static busybox at %q (apt-get install busybox-static): the welcome image has no shell", o.Busybox)
	}
	if o.Executable == "" {
		return Image{}, "", fmt.Errorf("welcome image: no executable to install")
	}
	layers = append(layers, Layer{
		Files:     []File{{Name: "usr", Dir: true}, {Name: "usr/local", Dir: true}, {Name: "usr/local/bin", Dir: true}, {Name: "usr/local/bin/welcome", Source: o.Executable, Mode: 0o755}},
		CreatedBy: "COPY welcome /usr/local/bin/ # berth",
	})
	layers = append(layers, Layer{
		Files: []File{
			{Name: "etc", Dir: true},
			{Name: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
			{Name: "etc/group", Data: []byte("root:x:0:\nnogroup:x:65534:\n")},
			{Name: "etc/hostname", Data: []byte("welcome\n")},
			{Name: "root", Dir: true, Mode: 0o700},
			{Name: "tmp", Dir: true, Mode: 0o1777},
			{Name: "usr/share", Dir: true},
			{Name: "usr/share/welcome", Dir: true},
			{Name: "usr/share/welcome/README.md", Data: []byte(WelcomeFullDescription)},
		},
		CreatedBy: "COPY rootfs/ / # berth",
	})
	im, err = Build(layers, Options{
		Config: image.ContainerConfig{
			Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:          image.StrSlice{"/usr/local/bin/welcome"},
			ExposedPorts: map[string]struct{}{"80/tcp": {}},
			WorkingDir:   "/",
			Labels:       map[string]string{"org.opencontainers.image.title": "welcome", "org.opencontainers.image.description": WelcomeDescription},
			StopSignal:   "SIGTERM",
		},
		ExtraHistory: []string{`EXPOSE map[80/tcp:{}]`, `CMD ["/usr/local/bin/welcome"]`},
		// Made in Go by the hub's seed, not by a builder from a Containerfile.
		HistoryComment: "berth.seed.v0",
	})
	return im, warning, err
}
