package network

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestIPAMConcurrent(t *testing.T) {
	a := &ipam{dir: t.TempDir(), subnet: netip.MustParsePrefix("10.1.2.0/24"), bootID: "boot1"}
	var mu sync.Mutex
	got := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for i := range 253 {
		wg.Go(func() {
			owner := fmt.Sprint("c", i)
			ip, err := a.allocate(owner)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, ok := got[ip]; ok {
				t.Errorf("%s given to %s and %s", ip, prev, owner)
			}
			got[ip] = owner
		})
	}
	wg.Wait()
	for ip := range got {
		if !a.subnet.Contains(ip) || ip == gateway(a.subnet) || ip.As4()[3] == 0 || ip.As4()[3] == 255 {
			t.Errorf("address %s not for a container", ip)
		}
	}
	if _, err := a.allocate("one-too-many"); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Errorf("full subnet: %v", err)
	}
	// Release by a stranger does nothing; by the owner frees it.
	var ip netip.Addr
	var owner string
	for ip, owner = range got {
		break
	}
	if err := a.release(ip, "stranger"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.allocate("x"); err == nil {
		t.Fatal("a stranger freed an address")
	}
	if err := a.release(ip, owner); err != nil {
		t.Fatal(err)
	}
	if again, err := a.allocate("x"); err != nil || again != ip {
		t.Fatalf("freed address not reused: %s %v", again, err)
	}
	// After a reboot every address is free again.
	b := &ipam{dir: a.dir, subnet: a.subnet, bootID: "boot2"}
	if _, err := b.allocate("after-reboot"); err != nil {
		t.Fatalf("stale addresses not reclaimed: %v", err)
	}
}

func TestContainerResolvConf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nameserver 127.0.0.53\noptions edns0\n", "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"search lan\nnameserver 10.0.0.1\nnameserver ::1\n", "search lan\nnameserver 10.0.0.1\n"},
		{"", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
	}
	for _, tt := range tests {
		if got := string(containerResolvConf([]byte(tt.in))); got != tt.want {
			t.Errorf("containerResolvConf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriteEtcFiles(t *testing.T) {
	dir := t.TempDir()
	ep := &Endpoint{IP: netip.MustParseAddr("10.77.0.9")}
	f, err := WriteEtcFiles(dir, "abc123", ep, false)
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := os.ReadFile(f.Hosts)
	if !strings.HasPrefix(string(hosts), "127.0.0.1\tlocalhost\n") || !strings.HasSuffix(string(hosts), "10.77.0.9\tabc123\n") {
		t.Errorf("hosts:\n%s", hosts)
	}
	if b, _ := os.ReadFile(f.Hostname); string(b) != "abc123\n" {
		t.Errorf("hostname %q", b)
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces and veth pairs need root: run the tests as root")
	}
}

// inNS runs fn on a thread inside the namespace at path. Sockets made there
// stay in that namespace wherever they are used later.
func inNS(t *testing.T, path string, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread dies with us
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func serve(t *testing.T, l net.Listener, reply string) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, reply)
			c.Close()
		}
	}()
}

func fetch(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	return string(b), err
}

func testNetwork(t *testing.T) *Network {
	t.Helper()
	needRoot(t)
	n, err := New(Config{Bridge: "berthtest0", Subnet: netip.MustParsePrefix("10.78.0.0/16"), RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName("berthtest0"); err == nil {
			netlink.LinkDel(l)
		}
	})
	return n
}

func TestAttach(t *testing.T) {
	n := testNetwork(t)
	ctx := context.Background()
	a, err := n.Attach(ctx, "aaaaaaaaaaaaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Attach(ctx, "bbbbbbbbbbbbbbbb")
	if err != nil {
		t.Fatal(err)
	}
	if a.IP == b.IP || !n.cfg.Subnet.Contains(a.IP) || a.Gateway != netip.MustParseAddr("10.78.0.1") {
		t.Fatalf("addresses %s %s gateway %s", a.IP, b.IP, a.Gateway)
	}

	inNS(t, a.NetNS, func() {
		pub, err := net.Listen("tcp", ":8000")
		if err != nil {
			t.Error(err)
			return
		}
		serve(t, pub, "public")
		priv, err := net.Listen("tcp", "127.0.0.1:8001")
		if err != nil {
			t.Error(err)
			return
		}
		serve(t, priv, "private")
	})
	// The host reaches the container's address, without NAT.
	if got, err := fetch(net.JoinHostPort(a.IP.String(), "8000")); err != nil || got != "public" {
		t.Fatalf("host to container: %q %v", got, err)
	}
	// What the container binds to its loopback stays private.
	if got, err := fetch(net.JoinHostPort(a.IP.String(), "8001")); err == nil {
		t.Fatalf("container loopback reached from the host: %q", got)
	}
	// Container to container, and container to host through the gateway.
	host, err := net.Listen("tcp", "10.78.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, host, "host")
	inNS(t, b.NetNS, func() {
		if got, err := fetch(net.JoinHostPort(a.IP.String(), "8000")); err != nil || got != "public" {
			t.Errorf("container to container: %q %v", got, err)
		}
		if got, err := fetch(host.Addr().String()); err != nil || got != "host" {
			t.Errorf("container to host: %q %v", got, err)
		}
		if got, err := fetch("127.0.0.1:8000"); err == nil {
			t.Errorf("b reached a's port on its own loopback: %q", got)
		}
	})

	for _, ep := range []*Endpoint{a, b} {
		id := strings.Repeat(ep.HostVeth[3:4], 16)
		if err := n.Detach(ctx, id, ep); err != nil {
			t.Fatal(err)
		}
		if _, err := netlink.LinkByName(ep.HostVeth); err == nil {
			t.Errorf("%s left", ep.HostVeth)
		}
		if _, err := os.Stat(ep.NetNS); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", ep.NetNS, err)
		}
		if _, err := os.Stat(filepath.Join(n.ipam.dir, ep.IP.String())); !os.IsNotExist(err) {
			t.Errorf("address %s still allocated: %v", ep.IP, err)
		}
		// Twice is fine (a reboot, a crashed remover).
		if err := n.Detach(ctx, id, ep); err != nil {
			t.Errorf("second detach: %v", err)
		}
	}
}

func TestAttachConcurrent(t *testing.T) {
	n := testNetwork(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	eps := make([]*Endpoint, 8)
	for i := range eps {
		wg.Go(func() {
			ep, err := n.Attach(ctx, fmt.Sprintf("%02d%014d", i, 0))
			if err != nil {
				t.Error(err)
				return
			}
			eps[i] = ep
		})
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i, ep := range eps {
		if ep == nil {
			continue
		}
		if seen[ep.IP] {
			t.Errorf("address %s twice", ep.IP)
		}
		seen[ep.IP] = true
		if err := n.Detach(ctx, fmt.Sprintf("%02d%014d", i, 0), ep); err != nil {
			t.Error(err)
		}
	}
}

func TestAttachFailsClean(t *testing.T) {
	n := testNetwork(t)
	ctx := context.Background()
	ep, err := n.Attach(ctx, "cccccccccccccccc")
	if err != nil {
		t.Fatal(err)
	}
	defer n.Detach(ctx, "cccccccccccccccc", ep)
	// The same ID again clashes on the namespace file and the veth name.
	if _, err := n.Attach(ctx, "cccccccccccccccc"); err == nil {
		t.Fatal("second attach of one ID succeeded")
	}
	entries, _ := os.ReadDir(n.ipam.dir)
	if len(entries) != 1 {
		t.Errorf("failed attach left %d addresses allocated", len(entries)-1)
	}
	if _, err := os.Stat(ep.NetNS); err != nil {
		t.Errorf("failed attach removed the first one's namespace: %v", err)
	}
	if _, err := netlink.LinkByName(ep.HostVeth); err != nil {
		t.Errorf("failed attach removed the first one's veth: %v", err)
	}
}

func BenchmarkAttachDetach(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	n, err := New(Config{Bridge: "berthtest0", Subnet: netip.MustParsePrefix("10.78.0.0/16"), RunDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if l, err := netlink.LinkByName("berthtest0"); err == nil {
			netlink.LinkDel(l)
		}
	}()
	ctx := context.Background()
	var attach, detach time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("%016x%016x", i, i)
		t0 := time.Now()
		ep, err := n.Attach(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := n.Detach(ctx, id, ep); err != nil {
			b.Fatal(err)
		}
		attach += t1.Sub(t0)
		detach += time.Since(t1)
	}
	b.ReportMetric(float64(attach.Milliseconds())/float64(b.N), "attach-ms")
	b.ReportMetric(float64(detach.Milliseconds())/float64(b.N), "detach-ms")
}

func TestScrub(t *testing.T) {
	n := testNetwork(t)
	ctx := context.Background()
	id := "dddddddddddddddd"
	ep, err := n.Attach(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// The record of ep is lost: Scrub finds it all by the ID.
	if err := n.Scrub(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ep.NetNS); !os.IsNotExist(err) {
		t.Errorf("namespace left: %v", err)
	}
	if _, err := netlink.LinkByName(ep.HostVeth); err == nil {
		t.Error("veth left")
	}
	if _, err := os.Stat(filepath.Join(n.ipam.dir, ep.IP.String())); !os.IsNotExist(err) {
		t.Errorf("address still allocated: %v", err)
	}
	again, err := n.Attach(ctx, id)
	if err != nil {
		t.Fatalf("attach after scrub: %v", err)
	}
	n.Detach(ctx, id, again)
}
