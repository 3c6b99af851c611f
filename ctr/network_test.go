package ctr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/portproxy"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/syncbuf"
)

func get(url string) (string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

func TestPublishedPort(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	o := busybox("sh", "-c", "httpd -p 127.0.0.1:9090 -h /www; exec httpd -f -p 8080 -h /www")
	o.Network = "bridge"
	pub, _ := portproxy.ParseSpec("127.0.0.1:0:8080")
	priv, _ := portproxy.ParseSpec("127.0.0.1::9090/tcp")
	o.Publish = append(pub, priv...)
	c := startDetached(t, m, o)
	ports := c.NetworkSettings.Ports
	if len(ports) != 2 || ports[0].HostPort == 0 || ports[0].ContainerPort != 8080 || ports[0].HostIP != "127.0.0.1" {
		t.Fatalf("ports %+v", ports)
	}
	if want := fmt.Sprintf("127.0.0.1:%d->8080/tcp", ports[0].HostPort); !strings.HasPrefix(c.PortsText(), want) {
		t.Errorf("PORTS %q, want %q first", c.PortsText(), want)
	}
	ip := c.NetworkSettings.IPAddress()
	if !strings.HasPrefix(ip, "10.79.") {
		t.Fatalf("address %q", ip)
	}
	url := fmt.Sprintf("http://%s/index.html", ports[0].Host())
	var body string
	waitFor(t, "httpd through the proxy", func() bool {
		var err error
		body, err = get(url)
		return err == nil
	})
	if body != "hello from berth\n" {
		t.Errorf("body %q", body)
	}
	// The host reaches the container's own address too, no NAT in between.
	if body, err := get("http://" + ip + ":8080/index.html"); err != nil || body != "hello from berth\n" {
		t.Errorf("direct: %q %v", body, err)
	}
	// What the container binds to its loopback stays private: through the
	// proxy and directly. The same server answers inside the container.
	if out := execOut(t, m, c.ID, "wget", "-q", "-O", "-", "http://127.0.0.1:9090/index.html"); out != "hello from berth\n" {
		t.Fatalf("the private server does not run: %q", out)
	}
	if body, err := get(fmt.Sprintf("http://%s/index.html", ports[1].Host())); err == nil {
		t.Errorf("container loopback reached through the proxy: %q", body)
	}
	if body, err := get("http://" + ip + ":9090/index.html"); err == nil {
		t.Errorf("container loopback reached directly: %q", body)
	}
	// A second container reaches the first by its address.
	o2 := busybox("wget", "-q", "-O", "-", "http://"+ip+":8080/index.html")
	o2.Network = "bridge"
	if out, errOut, code := run(t, m, o2); code != 0 || out != "hello from berth\n" {
		t.Errorf("container to container: %q %q %d", out, errOut, code)
	}
	// The same host port again clashes, and the failed start cleans up.
	o3 := busybox("true")
	o3.Network = "bridge"
	o3.Publish = []portproxy.Binding{{HostIP: "127.0.0.1", HostPort: ports[0].HostPort, ContainerPort: 80, Proto: "tcp"}}
	c3, err := m.Create(ctx, o3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, c3.ID, nil); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "port is already allocated") {
		t.Errorf("port clash: %v", err)
	}

	// rm -f releases everything: mounts, namespace, address, veth, ports.
	ep := c.NetworkSettings.Endpoint
	if err := m.Remove(ctx, c.ID, ctr.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if mps := mountsUnder(t, c.Dir()); len(mps) > 0 {
		t.Errorf("mounts left: %v", mps)
	}
	if _, err := os.Stat(ep.NetNS); !os.IsNotExist(err) {
		t.Errorf("namespace left: %v", err)
	}
	if _, err := netlink.LinkByName(ep.HostVeth); err == nil {
		t.Errorf("veth %s left", ep.HostVeth)
	}
	if _, err := net.DialTimeout("tcp", ports[0].Host(), time.Second); err == nil {
		t.Error("published port still open")
	}
}

func TestPublishAll(t *testing.T) {
	m := newManager(t)
	o := busybox("httpd", "-f", "-p", "80", "-h", "/www")
	o.Network = "bridge"
	o.ImageConfig.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}}
	o.PublishAll = true
	c := startDetached(t, m, o)
	if len(c.NetworkSettings.Ports) != 2 {
		t.Fatalf("ports %+v", c.NetworkSettings.Ports)
	}
	for _, p := range c.NetworkSettings.Ports {
		if p.HostPort == 0 || p.HostIP != "0.0.0.0" {
			t.Errorf("port %+v", p)
		}
		if p.Proto == "tcp" {
			waitFor(t, "httpd on a -P port", func() bool {
				_, err := get(fmt.Sprintf("http://127.0.0.1:%d/index.html", p.HostPort))
				return err == nil
			})
		}
	}
}

func TestNetworkModes(t *testing.T) {
	m := newManager(t)
	// none: loopback only.
	out, _, code := run(t, m, busybox("cat", "/proc/net/dev"))
	if code != 0 || !strings.Contains(out, "lo:") || strings.Contains(out, "eth0") {
		t.Errorf("--network none: %q", out)
	}
	// bridge: eth0 with the address; the hosts file names it.
	o := busybox("sh", "-c", "ip -4 addr show eth0; cat /etc/hosts /etc/hostname")
	o.Network = "bridge"
	out, _, code = run(t, m, o)
	if code != 0 || !strings.Contains(out, "inet 10.79.") || !strings.Contains(out, "127.0.0.1\tlocalhost") {
		t.Errorf("bridge: %q", out)
	}
	// host: the host's interfaces and hostname.
	o = busybox("sh", "-c", "cat /proc/net/dev; hostname")
	o.Network = "host"
	out, _, code = run(t, m, o)
	host, _ := os.Hostname()
	if code != 0 || !strings.Contains(out, "eth0") && !strings.Contains(out, testBridge) || !strings.HasSuffix(out, host+"\n") {
		t.Errorf("--network host: %q", out)
	}
	if _, err := m.Create(context.Background(), ctr.CreateOptions{Network: "nosuch", Cmd: []string{"true"}}); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "network nosuch not found") {
		t.Errorf("unknown network: %v", err)
	}
}

// execOut runs cmd in a running container and returns its output.
func execOut(t *testing.T, m *ctr.Manager, id string, cmd ...string) string {
	t.Helper()
	var out syncbuf.Buffer
	s, err := m.Exec(context.Background(), id, ctr.ExecOptions{Cmd: cmd}, ctr.Streams{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	if _, err := s.Wait(context.Background()); err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	return out.String()
}
