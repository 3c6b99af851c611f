package ctr

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/ctr/portproxy"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in      string
		want    VolumeSpec
		wantErr string
	}{
		{"/data", VolumeSpec{Destination: "/data"}, ""},
		{"/data:ro", VolumeSpec{Destination: "/data", ReadOnly: true}, ""},
		{"name:/data", VolumeSpec{Source: "name", Destination: "/data"}, ""},
		{"name:/data:ro,nocopy", VolumeSpec{Source: "name", Destination: "/data", ReadOnly: true, NoCopy: true}, ""},
		{"/host/dir:/data/", VolumeSpec{Source: "/host/dir", Destination: "/data"}, ""},
		{"/host:/data:z", VolumeSpec{Source: "/host", Destination: "/data"}, ""},
		{"/host:/data:bogus", VolumeSpec{}, "invalid mode: bogus"},
		{"name:data", VolumeSpec{}, "mount path must be absolute"},
		{"relative", VolumeSpec{}, "mount path must be absolute"},
		{"/host:/", VolumeSpec{}, "destination can't be '/'"},
		{"a:b:c:d", VolumeSpec{}, "invalid volume specification: 'a:b:c:d'"},
		{"bad/name:/data", VolumeSpec{}, "includes invalid characters for a local volume name"},
		{"", VolumeSpec{}, "invalid volume specification"},
	}
	for _, tt := range tests {
		got, err := ParseVolume(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errdefs.IsInvalid(err) {
				t.Errorf("ParseVolume(%q) = %+v, %v; want %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseVolume(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/a:/b:ro", "v:/x", "/x", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVolume(s)
		if err == nil && (!strings.HasPrefix(v.Destination, "/") || v.Destination == "/") {
			t.Fatalf("ParseVolume(%q) accepted destination %q", s, v.Destination)
		}
	})
}

func TestStatusAndPortsText(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		state State
		want  string
	}{
		{State{Status: StatusCreated}, "Created"},
		{State{Status: StatusRunning, StartedAt: now.Add(-500 * time.Millisecond)}, "Up Less than a second"},
		{State{Status: StatusRunning, StartedAt: now.Add(-5 * time.Second)}, "Up 5 seconds"},
		{State{Status: StatusRunning, StartedAt: now.Add(-70 * time.Second)}, "Up About a minute"},
		{State{Status: StatusRunning, StartedAt: now.Add(-3 * time.Hour)}, "Up 3 hours"},
		{State{Status: StatusExited, ExitCode: 137, FinishedAt: now.Add(-10 * time.Minute)}, "Exited (137) 10 minutes ago"},
		{State{Status: StatusExited, FinishedAt: now.Add(-72 * time.Hour)}, "Exited (0) 3 days ago"},
	}
	for _, tt := range tests {
		c := &Container{State: tt.state}
		if got := c.StatusText(now); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.state, got, tt.want)
		}
	}
	c := &Container{
		Config:          Config{ExposedPorts: []string{"443/tcp", "80/tcp"}},
		NetworkSettings: NetworkSettings{Ports: []portproxy.Mapping{{HostIP: "0.0.0.0", HostPort: 49153, ContainerPort: 80, Proto: "tcp"}}},
	}
	if got := c.PortsText(); got != "0.0.0.0:49153->80/tcp, 443/tcp" {
		t.Errorf("PORTS %q", got)
	}
}

func TestProcessStart(t *testing.T) {
	start, alive := processStart(os.Getpid())
	if !alive || start == 0 {
		t.Fatalf("self: %d %v", start, alive)
	}
	if again, _ := processStart(os.Getpid()); again != start {
		t.Error("start time changed")
	}
	if _, alive := processStart(1 << 30); alive {
		t.Error("a missing process is alive")
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/t\011ab\134x`: "/t\tab\\x", `/odd\0`: `/odd\0`} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestSignalOf(t *testing.T) {
	for in, want := range map[string]string{"": "SIGTERM", "TERM": "SIGTERM", "sigkill": "SIGKILL", "9": "SIGKILL", "SIGUSR1": "SIGUSR1"} {
		_, name, err := signalOf(in)
		if err != nil || name != want {
			t.Errorf("signalOf(%q) = %q %v", in, name, err)
		}
	}
	for _, bad := range []string{"NOPE", "0", "99", "-1"} {
		if _, _, err := signalOf(bad); !errdefs.IsInvalid(err) {
			t.Errorf("signalOf(%q) = %v", bad, err)
		}
	}
}

func imageConfig() *image.ContainerConfig {
	return &image.ContainerConfig{
		Env:          []string{"PATH=/bin", "A=1"},
		Entrypoint:   []string{"/entry"},
		Cmd:          []string{"serve"},
		WorkingDir:   "/app",
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
		Volumes:      map[string]struct{}{"/data": {}},
		Labels:       map[string]string{"l": "v"},
		StopSignal:   "SIGQUIT",
	}
}

func TestMergeWithImage(t *testing.T) {
	m := &Manager{}
	base := func() CreateOptions {
		o := CreateOptions{ImageConfig: imageConfig()}
		return o
	}
	tests := []struct {
		name     string
		mod      func(*CreateOptions)
		path     string
		args     []string
		workdir  string
		exposed  []string
		volumes  []string
		hostname string
	}{
		{"image defaults", func(*CreateOptions) {}, "/entry", []string{"serve"}, "/app", []string{"80/tcp"}, []string{"/data"}, ""},
		{"cmd replaces cmd", func(o *CreateOptions) { o.Cmd = []string{"other"} }, "/entry", []string{"other"}, "/app", []string{"80/tcp"}, []string{"/data"}, ""},
		{"entrypoint drops cmd", func(o *CreateOptions) { o.Entrypoint = []string{"sh"} }, "sh", nil, "/app", []string{"80/tcp"}, []string{"/data"}, ""},
		{"empty entrypoint", func(o *CreateOptions) { o.Entrypoint = []string{}; o.Cmd = []string{"ls"} }, "ls", nil, "/app", []string{"80/tcp"}, []string{"/data"}, ""},
		{"publish exposes", func(o *CreateOptions) {
			o.Publish = []portproxy.Binding{{ContainerPort: 53, Proto: "udp"}}
			o.Expose = []string{"8080"}
			o.WorkingDir = "/w"
			o.Hostname = "h"
		}, "/entry", []string{"serve"}, "/w", []string{"53/udp", "80/tcp", "8080/tcp"}, []string{"/data"}, "h"},
	}
	for _, tt := range tests {
		o := base()
		tt.mod(&o)
		c, _, err := m.newContainer(o)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.Path != tt.path || !reflect.DeepEqual(c.Args, tt.args) && len(c.Args)+len(tt.args) > 0 || c.Config.WorkingDir != tt.workdir ||
			!reflect.DeepEqual(c.Config.ExposedPorts, tt.exposed) || !reflect.DeepEqual(c.Config.Volumes, tt.volumes) {
			t.Errorf("%s: %s %q wd %s exposed %v volumes %v", tt.name, c.Path, c.Args, c.Config.WorkingDir, c.Config.ExposedPorts, c.Config.Volumes)
		}
		if want := tt.hostname; want == "" && c.Config.Hostname != c.ID[:12] || want != "" && c.Config.Hostname != want {
			t.Errorf("%s: hostname %q", tt.name, c.Config.Hostname)
		}
		if !reflect.DeepEqual(c.Config.Env, []string{"PATH=/bin", "A=1"}) || c.Config.Labels["l"] != "v" || c.Config.StopSignal != "SIGQUIT" {
			t.Errorf("%s: env %v labels %v stop %q", tt.name, c.Config.Env, c.Config.Labels, c.Config.StopSignal)
		}
	}
}

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{"ctrl-p,ctrl-q": {16, 17}, "ctrl-a,x": {1, 'x'}, "ctrl-@,ctrl-[,ctrl-_": {0, 27, 31}} {
		if got, err := ParseDetachKeys(in); err != nil || string(got) != string(want) {
			t.Errorf("ParseDetachKeys(%q) = %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "ctrl-", "ctrl-1", "abc", "ctrl-p,"} {
		if _, err := ParseDetachKeys(bad); !errdefs.IsInvalid(err) {
			t.Errorf("ParseDetachKeys(%q) = %v", bad, err)
		}
	}
}

func TestCommandAndID(t *testing.T) {
	c := &Container{Path: "sh", Args: []string{"-c", "exit 3", "x"}}
	if got := c.Command(); got != "sh -c 'exit 3' x" {
		t.Errorf("Command() = %q", got)
	}
	if (&Container{Path: "true"}).Command() != "true" {
		t.Error("a command without arguments")
	}
	m := &Manager{}
	id := strings.Repeat("0a", 32)
	c, _, err := m.newContainer(CreateOptions{ID: id, Cmd: []string{"true"}})
	if err != nil || c.ID != id || c.Config.Hostname != id[:12] {
		t.Errorf("a given ID: %v %v", c, err)
	}
	for _, bad := range []string{"abc", strings.Repeat("G", 64), "../" + strings.Repeat("a", 61)} {
		if _, _, err := m.newContainer(CreateOptions{ID: bad, Cmd: []string{"true"}}); !errdefs.IsInvalid(err) {
			t.Errorf("ID %q: %v", bad, err)
		}
	}
}
