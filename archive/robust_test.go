package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

// TestApplyInUserNamespace runs Apply as root of a user namespace, where mknod of
// devices and trusted.* xattrs are refused as for an unprivileged user: devices are
// skipped and counted, fifos made, the xattr skipped, as moby does.
func TestApplyInUserNamespace(t *testing.T) {
	if dir := os.Getenv("BERTH_ARCHIVE_USERNS_LAYER"); dir != "" {
		return // the child's half runs in TestUserNamespaceChild
	}
	requireRoot(t, "creating a user namespace mapped to uid 0 needs root")
	s := newSandbox(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestUserNamespaceChild$", "-test.v")
	cmd.Env = append(os.Environ(), "BERTH_ARCHIVE_USERNS_LAYER="+s.layer)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(err.Error(), "operation not permitted") {
			t.Skipf("SKIPPED: user namespaces are not allowed here: %v", err)
		}
		t.Fatalf("child: %v\n%s", err, out)
	}
	var res Result
	line := out[bytes.Index(out, []byte("RESULT ")):]
	if err := json.Unmarshal(line[len("RESULT "):bytes.IndexByte(line, '\n')], &res); err != nil {
		t.Fatalf("child output: %v\n%s", err, out)
	}
	if res.SkippedDevices != 2 {
		t.Errorf("SkippedDevices = %d, want 2", res.SkippedDevices)
	}
	got := listing(t, s.layer, "")
	want := map[string]string{
		"dev":      "dir 0755",
		"dev/fifo": "fifo 0644",
		"f":        `reg 0644 0:0 nlink=1 "content"`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tree:\n%swant:\n%s", dump(got), dump(want))
	}
	s.check(t)
}

func TestUserNamespaceChild(t *testing.T) {
	dir := os.Getenv("BERTH_ARCHIVE_USERNS_LAYER")
	if dir == "" {
		t.Skip("runs only as TestApplyInUserNamespace's child")
	}
	res, err := apply(t, dir, Options{},
		dev(tar.TypeChar, "dev/null", 1, 3),
		dev(tar.TypeBlock, "dev/sda", 8, 0),
		dev(tar.TypeFifo, "dev/fifo", 0, 0),
		reg("f", "content", xattr("trusted.refused", "x")),
	)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", b)
}

// cancelAfter cancels a context once n bytes were read through it.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestApplyContextCancelled(t *testing.T) {
	var ents []entry
	for i := range 2000 {
		ents = append(ents, reg(fmt.Sprintf("d%d/f%d", i%50, i), strings.Repeat("x", 100)))
	}
	ents = append(ents, reg("big", strings.Repeat("y", 8<<20)))
	data := buildTar(t, ents...)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Apply(ctx, t.TempDir(), bytes.NewReader(data), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context: %v, want context.Canceled", err)
	}

	for _, at := range []int{1 << 20, len(data) - 4<<20} { // among the small files; inside the big one
		ctx, cancel := context.WithCancel(context.Background())
		r := &cancelAfter{r: bytes.NewReader(data), n: at, cancel: cancel}
		layer := t.TempDir()
		_, err := Apply(ctx, layer, r, Options{})
		cancel()
		if !errors.Is(err, context.Canceled) || err.Error() != context.Canceled.Error() {
			t.Errorf("cancelled at byte %d: %v, want ctx.Err()", at, err)
		}
		if _, err := os.Stat(filepath.Join(layer, "big")); at == 1<<20 && err == nil {
			t.Errorf("cancelled at byte %d: extraction went on to the end", at)
		}
	}
}

func TestApplyMalformed(t *testing.T) {
	good := buildTar(t, reg("a", strings.Repeat("a", 2000)), reg("b", "b"))
	unsupported := func() []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Typeflag: 'V', Name: "volume-label", Format: tar.FormatGNU})
		tw.Close()
		return b.Bytes()
	}()
	for _, tc := range []struct {
		name    string
		data    []byte
		want    string
		invalid bool
	}{
		{"truncated in a file", good[:1024], "reading file content", false},
		{"truncated in a header", good[:512*5+100], "reading layer tar", true},
		{"garbage", bytes.Repeat([]byte("not a tar "), 100), "reading layer tar", true},
		{"unsupported entry type", unsupported, `"volume-label"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(tc.data), Options{})
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tc.want)
			}
			if tc.invalid && !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
		})
	}
	// An empty stream is an empty layer.
	res, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(nil), Options{})
	if err != nil || res.Entries != 0 || res.Size != 0 {
		t.Errorf("empty stream: %+v, %v", res, err)
	}
}

// TestApplyReadsToEnd: the caller hashes the stream for the diffID, which covers the
// padding after the end-of-archive blocks.
func TestApplyReadsToEnd(t *testing.T) {
	data := append(buildTar(t, reg("f", "x")), make([]byte, 10240)...)
	r := bytes.NewReader(data)
	if _, err := Apply(context.Background(), t.TempDir(), r, Options{}); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes left unread", r.Len())
	}
}
