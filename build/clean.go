package build

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
)

// cleanUpper makes a RUN step's upper directory the layer the step made:
// overlayfs's own xattrs go (but the opaque mark, the store's format), and
// so do the stubs the runtime made for its mounts (and the directories it
// made or copied up only to hold them), unless the lower layers had them.
func cleanUpper(upper string, lower srcFS, mounts []string) error {
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return dropOverlayXattrs(p)
	})
	if err != nil {
		return err
	}
	for _, stub := range append(engine.RuntimeStubs(), mounts...) {
		if !removeStub(upper, lower, stub) {
			continue
		}
		for dir := path.Dir(stub); dir != "/"; dir = path.Dir(dir) {
			if !removeStub(upper, lower, dir) {
				break
			}
		}
	}
	return nil
}

// removeStub removes p from the upper directory if it is an empty file or
// directory the lower layers do not have, or a directory the lower layers
// have that only holds nothing (a copy-up to hold a stub).
func removeStub(upper string, lower srcFS, p string) bool {
	host := filepath.Join(upper, p)
	fi, err := os.Lstat(host)
	if err != nil {
		return false
	}
	le, lerr := lower.lstat(p)
	switch {
	case fi.Mode().IsRegular() && fi.Size() == 0 && lerr != nil:
	case fi.IsDir() && isEmptyDir(host) && (lerr != nil || le.IsDir()) && !isOpaque(host):
	default:
		return false
	}
	return os.Remove(host) == nil
}

func isEmptyDir(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

// dropOverlayXattrs removes trusted.overlay.* from p, except the opaque
// mark.
func dropOverlayXattrs(p string) error {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if strings.HasPrefix(name, "trusted.overlay.") && name != "trusted.overlay.opaque" {
			if err := unix.Lremovexattr(p, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// write records the target stage as the image, with --label's labels.
func (b *builder) write(ctx context.Context, st *stage) (digest.Digest, error) {
	cc := st.cc()
	for k, v := range b.o.Labels {
		if cc.Labels == nil {
			cc.Labels = map[string]string{}
		}
		cc.Labels[k] = v
	}
	// The image is as old as its last step, so a cached build gives the
	// same image ID.
	created := b.stamp(time.Now())
	if h := st.cfg.History; len(h) > 0 && h[len(h)-1].Created != nil {
		created = *h[len(h)-1].Created
	}
	st.cfg.Created = &created
	st.cfg.DockerVersion, st.cfg.Container, st.cfg.ContainerConfig, st.cfg.Comment = "", "", nil, ""
	return b.sess.WriteImage(ctx, &st.cfg, st.layers, b.o.Tags)
}
