package build

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const multiStage = `ARG BASE=box
FROM ${BASE} AS build
ARG GREETING=hello
ENV APP=/app NAME=world
WORKDIR $APP
RUN <<EOF
echo "$GREETING $NAME" > /app/greeting
mkdir -p /out && cp /app/greeting /out/
EOF
RUN --mount=type=cache,target=/cache echo run >> /cache/count && wc -l < /cache/count | tr -d ' ' > /out/runs
COPY --chown=nobody:nogroup --chmod=0640 data.txt /out/data.txt
ADD files.tar /out/x/
COPY . /out/ctx/

FROM box AS unused
RUN exit 1

FROM box
LABEL org.example.stage=final
COPY --from=build /out /out
USER nobody
EXPOSE 8080
HEALTHCHECK --interval=5s CMD true
ONBUILD RUN echo triggered > /tmp/triggered
CMD ["cat", "/out/greeting"]
`

func tarOf(files map[string]string) string {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.String()
}

func multiStageContext(t *testing.T) string {
	return writeContext(t, map[string]string{"Containerfile": multiStage, "data.txt": "data\n",
		"files.tar": tarOf(map[string]string{"inside": "from the tar\n"}), "secret.txt": "no\n",
		".dockerignore": "secret.txt\n*.tar\n!files.tar\n"})
}

// A multi-stage build with what a Containerfile commonly holds gives an
// image that runs, with the config its instructions set; the stage the
// target does not need is skipped.
func TestBuildMultiStage(t *testing.T) {
	e := newEngine(t)
	dir := multiStageContext(t)
	res, _ := build(t, e, Options{ContextDir: dir, Tags: []string{"app:1", "app:latest"}})
	if out := runImage(t, e, "app:1"); out != "hello world\n" {
		t.Errorf("CMD printed %q", out)
	}
	out := runImage(t, e, "app:1", "sh", "-c", "cat /out/runs /out/x/inside /out/data.txt; stat -c '%u:%g %a' /out/data.txt; ls -A /out/ctx")
	if want := "1\nfrom the tar\ndata\n65534:65534 640\n.dockerignore\nContainerfile\ndata.txt\nfiles.tar\n"; out != want {
		t.Errorf("files:\n%s\nwant:\n%s", out, want)
	}
	img, err := e.InspectImage(context.Background(), "app:latest")
	if err != nil {
		t.Fatal(err)
	}
	cc := img.Config
	if img.ID != res.ID || cc.User != "nobody" || !slices.Equal(cc.Cmd, []string{"cat", "/out/greeting"}) ||
		cc.Healthcheck == nil || cc.Healthcheck.Interval != 5*time.Second || len(cc.ExposedPorts) != 1 ||
		cc.Labels["org.example.stage"] != "final" || !slices.Equal(cc.OnBuild, []string{"RUN echo triggered > /tmp/triggered"}) {
		t.Errorf("config %+v", cc)
	}
	hist, err := e.History(context.Background(), "app:1")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, h := range hist {
		rows = append(rows, h.CreatedBy)
	}
	joined := strings.Join(rows, "\n")
	for _, want := range []string{"COPY --from=build /out /out # berth", "USER nobody", "EXPOSE map[8080/tcp:{}]", "LABEL org.example.stage=final"} {
		if !strings.Contains(joined, want) {
			t.Errorf("history lacks %q:\n%s", want, joined)
		}
	}

	// An image built FROM it runs its ONBUILD trigger first.
	child := writeContext(t, map[string]string{"Containerfile": "FROM app:1\nUSER root\n"})
	build(t, e, Options{ContextDir: child, Tags: []string{"child"}})
	if out := runImage(t, e, "child", "cat", "/tmp/triggered"); out != "triggered\n" {
		t.Errorf("trigger left %q", out)
	}
}

// The second build of the same context is all cached, with no container;
// a change to one copied file runs again from that COPY only; a changed
// build arg or heredoc body is a miss.
func TestBuildCache(t *testing.T) {
	e := newEngine(t)
	dir := multiStageContext(t)
	first, _ := build(t, e, Options{ContextDir: dir})
	second, log := build(t, e, Options{ContextDir: dir})
	if second.Ran != 0 || second.Cached != first.Ran || second.ID != first.ID {
		t.Errorf("second build: %+v, first %+v", second, first)
	}
	if !strings.Contains(log, "CACHED") {
		t.Errorf("no CACHED in the progress")
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, _ := build(t, e, Options{ContextDir: dir})
	// WORKDIR and both RUNs are cached; COPY data.txt, ADD, COPY . and
	// the final stage's COPY --from run.
	if third.Cached != 3 || third.Ran != 4 {
		t.Errorf("after a change to data.txt: %+v", third)
	}
	arg := "bonjour"
	fourth, _ := build(t, e, Options{ContextDir: dir, BuildArgs: map[string]*string{"GREETING": &arg}})
	if fourth.Cached != 0 { // the stage declared GREETING before its first layer
		t.Errorf("a changed build arg: %+v", fourth)
	}
	if out := runImage(t, e, fourth.ID); out != "bonjour world\n" {
		t.Errorf("CMD printed %q", out)
	}
	heredoc := strings.Replace(multiStage, `echo "$GREETING $NAME"`, `echo "$GREETING there"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(heredoc), 0o644); err != nil {
		t.Fatal(err)
	}
	fifth, _ := build(t, e, Options{ContextDir: dir})
	if fifth.Cached != 1 { // WORKDIR only
		t.Errorf("a changed heredoc body: %+v", fifth)
	}
	if out := runImage(t, e, fifth.ID); out != "hello there\n" {
		t.Errorf("CMD printed %q", out)
	}
}
