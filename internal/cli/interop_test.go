package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/testimage"
)

// richImage is an image whose layers hold what sizes and extraction must
// get right: symlinks absolute and relative, hardlinks, empty and setuid
// files, a whiteout and an opaque directory; history with empty steps.
func richImage(t *testing.T) []byte {
	t.Helper()
	bb, err := testimage.Busybox()
	if err != nil {
		t.Skipf("SKIPPED: %v", err)
	}
	www := testimage.Tar(
		testimage.File{Name: "www/"},
		testimage.File{Name: "www/index.html", Body: "<h1>hello from berth</h1>\n"},
		testimage.File{Name: "www/old.html", Body: "old page, whited out above"},
		testimage.File{Name: "www/empty"},
		testimage.File{Name: "www/hard", Body: "linked twice", Mode: 0o600},
		testimage.File{Name: "www/hard2", Typeflag: '1', Linkname: "www/hard"},
		testimage.File{Name: "etc/localtime", Typeflag: '2', Linkname: "/usr/share/zoneinfo/UTC"},
		testimage.File{Name: "lib64/"},
		testimage.File{Name: "lib64/ld-linux-x86-64.so.2", Typeflag: '2', Linkname: "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"},
		testimage.File{Name: "usr/"}, testimage.File{Name: "usr/bin/"},
		testimage.File{Name: "usr/bin/su-ish", Body: "#!/bin/sh\n", Mode: 0o4755},
		testimage.File{Name: "data/"}, testimage.File{Name: "data/a", Body: "aaaa"},
	)
	top := testimage.Tar(
		testimage.File{Name: "www/"},
		testimage.File{Name: "www/.wh.old.html"},
		testimage.File{Name: "www/index.html", Body: "<h1>welcome, changed in layer 3</h1>\n"},
		testimage.File{Name: "data/"},
		testimage.File{Name: "data/.wh..wh..opq"},
		testimage.File{Name: "data/b", Body: "bb"},
	)
	cfg := `{"architecture":"amd64","os":"linux","created":"2024-05-06T07:08:09.123456789Z","author":"berth tests",
	"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hi"],"Cmd":["httpd","-f","-p","8080","-h","/www"],
	"ExposedPorts":{"8080/tcp":{}},"WorkingDir":"/www","Labels":{"org.example":"berth"},"Volumes":{"/data":{}},"StopSignal":"SIGTERM"},
	"rootfs":{"type":"layers","diff_ids":["` + sha(bb) + `","` + sha(www) + `","` + sha(top) + `"]},
	"history":[
	 {"created":"2024-05-06T07:00:00Z","created_by":"/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / "},
	 {"created":"2024-05-06T07:01:00Z","created_by":"/bin/sh -c #(nop)  ENV GREETING=hi","empty_layer":true},
	 {"created":"2024-05-06T07:02:00Z","created_by":"COPY www / # buildkit","comment":"buildkit.dockerfile.v0"},
	 {"created":"2024-05-06T07:03:00Z","created_by":"/bin/sh -c #(nop)  EXPOSE 8080","empty_layer":true},
	 {"created":"2024-05-06T07:04:00Z","created_by":"RUN /bin/sh -c rm /www/old.html \u0026\u0026 echo \"\u003ch1\u003ewelcome\u003c/h1\u003e\" \u003e /www/index.html # buildkit","comment":"buildkit.dockerfile.v0"},
	 {"created":"2024-05-06T07:08:09.123456789Z","created_by":"/bin/sh -c #(nop)  CMD [\"httpd\" \"-f\" \"-p\" \"8080\" \"-h\" \"/www\"]","empty_layer":true}]}`
	return testimage.DockerArchive(testimage.ArchiveImage{Config: []byte(cfg), Layers: [][]byte{bb, www, testimage.Gzip(top)}, Tags: []string{"rich:1"}})
}

func sha(b []byte) string { return "sha256:" + sha256hex(b) }

// inspectFields are the fields berth and dockerd must agree on.
type inspectFields struct {
	ID      string `json:"Id"`
	Created string
	Size    int64
	Config  json.RawMessage
	RootFS  struct{ Layers []string }
}

func parseInspect(t *testing.T, out string) inspectFields {
	t.Helper()
	var v []inspectFields
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("inspect output %q: %v", out, err)
	}
	return v[0]
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	json.Unmarshal(a, &x)
	json.Unmarshal(b, &y)
	return reflect.DeepEqual(x, y)
}

// compareWithDocker checks that berth and dockerd describe image ref alike.
func compareWithDocker(t *testing.T, d *dockertest.Daemon, b *berthCLI, ref string) {
	t.Helper()
	di := parseInspect(t, d.Docker(t, "image", "inspect", ref))
	bi := parseInspect(t, b.run("image", "inspect", ref))
	if di.ID != bi.ID {
		t.Errorf("image ID: docker %s, berth %s", di.ID, bi.ID)
	}
	if !reflect.DeepEqual(di.RootFS.Layers, bi.RootFS.Layers) {
		t.Errorf("RootFS.Layers: docker %v, berth %v", di.RootFS.Layers, bi.RootFS.Layers)
	}
	if di.Created != bi.Created {
		t.Errorf("Created: docker %s, berth %s", di.Created, bi.Created)
	}
	if di.Size != bi.Size {
		t.Errorf("Size: docker %d, berth %d", di.Size, bi.Size)
	}
	if !sameJSON(di.Config, bi.Config) {
		t.Errorf("Config:\ndocker %s\nberth  %s", di.Config, bi.Config)
	}

	hist := "{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}"
	for _, args := range [][]string{
		{"history", "--no-trunc", "-H=false", "--format", hist, ref},
		{"history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", ref},
	} {
		dh := d.Docker(t, args...)
		bh := b.run(args...)
		if dh != bh {
			t.Errorf("berth %s:\ndocker:\n%s\nberth:\n%s", strings.Join(args, " "), dh, bh)
		}
	}
	for _, args := range [][]string{{"history", ref}, {"images"}, {"image", "ls", "--digests"}} {
		dh := headerOf(d.Docker(t, args...))
		bh := headerOf(b.run(args...))
		if !reflect.DeepEqual(dh, bh) {
			t.Errorf("%s headers: docker %q, berth %q", strings.Join(args, " "), dh, bh)
		}
	}
	// The table rows of history, with relative times dropped.
	dRows := d.Docker(t, "history", ref)
	bRows := b.run("history", ref)
	if got, want := dropCreated(bRows), dropCreated(dRows); got != want {
		t.Errorf("history table:\ndocker:\n%s\nberth:\n%s", dRows, bRows)
	}
}

var columnGap = regexp.MustCompile(`\s{2,}`)

func headerOf(table string) []string {
	first, _, _ := strings.Cut(table, "\n")
	return columnGap.Split(strings.TrimSpace(first), -1)
}

var relTime = regexp.MustCompile(`(About an? \w+|Less than a second|\d+ \w+) ago`)

func dropCreated(table string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		lines = append(lines, strings.Join(columnGap.Split(relTime.ReplaceAllString(l, "T"), -1), "|"))
	}
	return strings.Join(lines, "\n")
}

func TestDockerSaveLoadsIntoBerth(t *testing.T) {
	d := dockertest.Shared(t)
	archive := richImage(t)
	d.DockerIn(t, archive, "load")
	t.Cleanup(func() { d.Try("rmi", "-f", "rich:1") })
	saved := filepath.Join(t.TempDir(), "docker-save.tar")
	d.Docker(t, "save", "-o", saved, "rich:1")

	b := newBerth(t)
	out := b.run("load", "-i", saved)
	if strings.TrimSpace(out) != "Loaded image: rich:1" {
		t.Errorf("load said %q", out)
	}
	compareWithDocker(t, d, b, "rich:1")
	if out := b.run("system", "check"); !strings.Contains(out, " 0 problems") {
		t.Errorf("system check: %s", out)
	}
}

func TestBerthSaveLoadsIntoDockerAndRuns(t *testing.T) {
	d := dockertest.Shared(t)
	b := newBerth(t)
	src := filepath.Join(t.TempDir(), "rich.tar")
	if err := os.WriteFile(src, richImage(t), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("load", "-i", src)
	b.run("tag", "rich:1", "rich:copy")
	saved := filepath.Join(t.TempDir(), "berth-save.tar")
	b.run("save", "-o", saved, "rich")

	d.Try("rmi", "-f", "rich:1", "rich:copy")
	out := d.Docker(t, "load", "-i", saved)
	if !strings.Contains(out, "Loaded image: rich:1") || !strings.Contains(out, "Loaded image: rich:copy") {
		t.Errorf("docker load said %q", out)
	}
	t.Cleanup(func() { d.Try("rmi", "-f", "rich:1", "rich:copy") })
	compareWithDocker(t, d, b, "rich:1")

	run := d.Docker(t, "run", "--rm", "--network", "none", "rich:1", "sh", "-c", "cat /www/index.html; ls /data; test -e /www/old.html || echo gone; echo $GREETING")
	if run != "<h1>welcome, changed in layer 3</h1>\nb\ngone\nhi\n" {
		t.Errorf("docker run of berth's image printed %q", run)
	}
}
