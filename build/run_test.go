package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A RUN step's layer holds what the step changed and nothing the runtime
// made for its mounts: no /etc/hosts stub, no /proc, no overlay xattrs.
func TestRunLayerHoldsOnlyTheChange(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Containerfile": "FROM box\nRUN echo hi > /hello && rm /bin/yes\n"})
	build(t, e, Options{ContextDir: dir, Tags: []string{"img"}})
	got := strings.Join(topLayerEntries(t, e, "img"), " ")
	if want := "bin/ bin/.wh.yes hello"; got != want {
		t.Errorf("layer holds %q, want %q", got, want)
	}
	if out := runImage(t, e, "img", "cat", "/hello"); out != "hi\n" {
		t.Errorf("output %q", out)
	}
}

// COPY --from sees a stage as overlayfs shows it: what a RUN removed is
// not copied.
func TestCopyFromSeesWhiteouts(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Containerfile": "FROM box AS a\nRUN rm /bin/yes\nFROM box\nCOPY --from=a /bin/ /copied/\n"})
	build(t, e, Options{ContextDir: dir, Tags: []string{"img"}})
	if out := runImage(t, e, "img", "sh", "-c", "ls /copied/yes 2>&1; ls /copied/true"); !strings.Contains(out, "No such file") || !strings.Contains(out, "/copied/true") {
		t.Errorf("output %q", out)
	}
}

// RUN's bind mounts bring in a stage's or the context's files, which are
// part of the step's key and in no layer.
func TestRunBindMounts(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"data.txt": "data\n", "Containerfile": "FROM box AS a\nRUN echo from-a > /f\n" +
		"FROM box\nRUN --mount=type=bind,from=a,source=/f,target=/mnt/f --mount=type=bind,source=data.txt,target=/d,rw cat /mnt/f /d > /got\n"})
	res, _ := build(t, e, Options{ContextDir: dir, Tags: []string{"img"}})
	if out := runImage(t, e, "img", "cat", "/got"); out != "from-a\ndata\n" {
		t.Errorf("the step read %q", out)
	}
	if got := strings.Join(topLayerEntries(t, e, "img"), " "); got != "got" {
		t.Errorf("layer holds %q, want only got", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, _ := build(t, e, Options{ContextDir: dir, Tags: []string{"img"}})
	if again.Ran != 1 || again.ID == res.ID {
		t.Errorf("a changed bound file: %+v", again)
	}
}

// COPY into ".", into a directory the stage has, and a heredoc COPY.
func TestCopyDestinations(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"a.txt": "a\n", "Containerfile": "FROM box\nENV WHO=world\nWORKDIR /app\nCOPY a.txt .\n" +
		"COPY a.txt /tmp\nCOPY <<EOF /app/notes/hello.txt\nhello $WHO\nEOF\n"})
	build(t, e, Options{ContextDir: dir, Tags: []string{"img"}})
	out := runImage(t, e, "img", "sh", "-c", "cat /app/a.txt /tmp/a.txt /app/notes/hello.txt; stat -c %a /tmp")
	if out != "a\na\nhello world\n1777\n" {
		t.Errorf("output %q", out)
	}
}

// RUN after VOLUME writes into the layer (BuildKit mounts no volumes),
// and a step leaves no volume behind.
func TestRunAfterVolume(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Containerfile": "FROM box\nVOLUME /data\nEXPOSE 80\nRUN mkdir -p /data && echo kept > /data/f\n"})
	build(t, e, Options{ContextDir: dir, Tags: []string{"img"}})
	if got := strings.Join(topLayerEntries(t, e, "img"), " "); got != "data/ data/f" {
		t.Errorf("layer holds %q", got)
	}
	vols, err := e.Volumes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 0 {
		t.Errorf("volumes left: %v", vols)
	}
}

// A heredoc that feeds a command (not the whole script) reaches it, body
// and all, and SHELL sets the shell RUN uses.
func TestRunHeredocAsInput(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Containerfile": "FROM box\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN cat <<EOF > /x\nhello\nEOF\n"})
	build(t, e, Options{ContextDir: dir, Tags: []string{"img"}})
	if out := runImage(t, e, "img", "cat", "/x"); out != "hello\n" {
		t.Errorf("/x holds %q", out)
	}
	hist, err := e.History(context.Background(), "img")
	if err != nil {
		t.Fatal(err)
	}
	if got := hist[0].CreatedBy; !strings.HasPrefix(got, "RUN /bin/sh -ec cat <<EOF > /x") {
		t.Errorf("created_by %q", got)
	}
}

// A symlink in a stage or in the context never leads COPY to the host's
// files: an absolute link in a layer, a link out of the context.
func TestCopyNeverFollowsOut(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Containerfile": "FROM box AS a\nRUN ln -s /etc /hostetc\n" +
		"FROM box\nCOPY --from=a /hostetc/ /hostetc/host* /fromstage/\nCOPY out/ out/host* /fromctx/\n"})
	if err := os.Symlink("/etc", filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), e, Options{ContextDir: dir, Network: "none", Tags: []string{"img"}})
	if err == nil {
		out := runImage(t, e, "img", "sh", "-c", "ls /fromstage /fromctx")
		if strings.Contains(out, "os-release") || strings.Contains(out, "hostname") {
			t.Errorf("copied the host's /etc: %s", out)
		}
	}
}

// A heredoc RUN with a #! line runs as a program of its own, and leaves
// nothing of its mount in the layer.
func TestRunShebangHeredoc(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Containerfile": "FROM box\nRUN <<EOF\n#!/bin/sh -e\necho \"$0\" > /ran\nEOF\n"})
	build(t, e, Options{ContextDir: dir, Tags: []string{"img"}})
	if out := runImage(t, e, "img", "cat", "/ran"); out != "/dev/pipes/EOF\n" {
		t.Errorf("the script ran as %q", out)
	}
	if got := strings.Join(topLayerEntries(t, e, "img"), " "); got != "ran" {
		t.Errorf("layer holds %q", got)
	}
}
