package build

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/engine"
)

// configOnly is a Containerfile whose target needs no container: FROM
// scratch, config instructions, a COPY, and a stage --target skips.
const configOnly = `ARG NAME=app
FROM scratch AS base
ARG NAME
ENV HOME=/home/${NAME} PATH=/bin
LABEL name=${NAME} version="1.0"
COPY <<EOF /etc/motd
hi
EOF
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
ENTRYPOINT run --fast
STOPSIGNAL SIGINT
USER 1000:1000
VOLUME ["/data"]
EXPOSE 80 53/udp
HEALTHCHECK NONE
ONBUILD COPY . /src
MAINTAINER someone

FROM base AS other
RUN exit 1
`

// Config instructions land in the image config and history as BuildKit
// writes them; --target builds only what it needs (no runtime here).
func TestConfigInstructions(t *testing.T) {
	ctx := context.Background()
	e, err := engine.Open(ctx, engine.Options{Root: t.TempDir(), Runtime: engine.RuntimeOptions{RuncPath: "/nonexistent/runc", RunDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dir := writeContext(t, map[string]string{"Containerfile": configOnly})
	res, _ := build(t, e, Options{ContextDir: dir, Target: "base", Tags: []string{"cfg"}, Labels: map[string]string{"extra": "yes"}})
	img, err := e.InspectImage(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	cc := img.Config
	if img.ID != res.ID || !slices.Equal(cc.Env, []string{"HOME=/home/app", "PATH=/bin"}) || cc.Labels["name"] != "app" ||
		cc.Labels["version"] != "1.0" || cc.Labels["extra"] != "yes" || cc.StopSignal != "SIGINT" || cc.User != "1000:1000" ||
		!slices.Equal(cc.Entrypoint, []string{"/bin/ash", "-eo", "pipefail", "-c", "run --fast"}) || len(cc.Cmd) != 0 ||
		!slices.Equal(cc.OnBuild, []string{"COPY . /src"}) || cc.Healthcheck == nil || cc.Healthcheck.Test[0] != "NONE" ||
		len(cc.Volumes) != 1 || len(cc.ExposedPorts) != 2 || img.Author != "someone" {
		raw, _ := json.MarshalIndent(img, "", "  ")
		t.Errorf("image:\n%s", raw)
	}
	hist, err := e.History(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, h := range hist {
		rows = append(rows, h.CreatedBy)
	}
	got := strings.Join(rows, "\n")
	for _, want := range []string{"ENV HOME=/home/app PATH=/bin", "COPY <<EOF /etc/motd # berth", `SHELL ["/bin/ash","-eo","pipefail","-c"]`,
		`ENTRYPOINT ["/bin/ash","-eo","pipefail","-c","run --fast"]`, "STOPSIGNAL SIGINT", "EXPOSE map[53/udp:{} 80/tcp:{}]"} {
		if !strings.Contains(got, want) {
			t.Errorf("history lacks %q:\n%s", want, got)
		}
	}
	if len(img.RootFS.Layers) != 1 {
		t.Errorf("layers: %v", img.RootFS.Layers)
	}
}
