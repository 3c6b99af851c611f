package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

// Options is the one check of a container's settings: it reads env (with
// files and the caller's environment), ports, --expose ranges and labels,
// and refuses bad ones as ErrInvalid.
func TestContainerSpecOptions(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# c\n\nA=file\nHOSTED\nUNSET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := map[string]string{"HOSTED": "h", "B": "b"}[k]; return v, ok }
	o, err := ContainerSpec{
		Image: "img", Env: []string{"B", "C", "A=cli"}, EnvFiles: []string{envFile}, LookupEnv: lookup,
		Publish: []string{"8080:80"}, HostPorts: []HostPort{{"53/udp", "5353"}}, Expose: []string{"7000-7001/udp"},
		Labels: []string{"tier=web", "bare"},
	}.Options()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.Env, " "); got != "A=file HOSTED=h B=b C A=cli" {
		t.Errorf("env %q", got)
	}
	if len(o.Publish) != 2 || o.Publish[0].HostPort != 8080 || o.Publish[1].Proto != "udp" || o.Publish[1].HostPort != 5353 {
		t.Errorf("publish %+v", o.Publish)
	}
	if got := strings.Join(o.Expose, " "); got != "7000/udp 7001/udp" {
		t.Errorf("expose %q", got)
	}
	if o.Labels["tier"] != "web" || o.Labels["bare"] != "" || len(o.Labels) != 2 {
		t.Errorf("labels %v", o.Labels)
	}
	for _, bad := range []ContainerSpec{
		{},
		{Image: "img", Name: "no spaces"},
		{Image: "img", Env: []string{"=1"}},
		{Image: "img", Publish: []string{"abc"}},
		{Image: "img", HostPorts: []HostPort{{"80/tcp", "http"}}},
		{Image: "img", Expose: []string{"9-8"}},
		{Image: "img", Volumes: []string{"data:relative"}},
	} {
		if _, err := bad.Options(); !errdefs.IsInvalid(err) {
			t.Errorf("%+v: err %v, want invalid", bad, err)
		}
	}
}
