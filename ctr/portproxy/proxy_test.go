package portproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    []Binding
		wantErr string
	}{
		{"80", []Binding{{ContainerPort: 80, Proto: "tcp"}}, ""},
		{"8080:80", []Binding{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}, ""},
		{"0:80", []Binding{{ContainerPort: 80, Proto: "tcp"}}, ""},
		{"127.0.0.1:8080:80/udp", []Binding{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "udp"}}, ""},
		{"127.0.0.1::80", []Binding{{HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"}}, ""},
		{"53/UDP", []Binding{{ContainerPort: 53, Proto: "udp"}}, ""},
		{"8000-8001:80-81", []Binding{{HostPort: 8000, ContainerPort: 80, Proto: "tcp"}, {HostPort: 8001, ContainerPort: 81, Proto: "tcp"}}, ""},
		{"80-81", []Binding{{ContainerPort: 80, Proto: "tcp"}, {ContainerPort: 81, Proto: "tcp"}}, ""},
		{"", nil, "no port specified"},
		{"8080:", nil, "no port specified"},
		{"80/sctp", nil, "invalid proto: sctp"},
		{"x:80", nil, "invalid hostPort: x"},
		{"80:x", nil, "invalid containerPort: x"},
		{"0", nil, "invalid containerPort: 0"},
		{"70000", nil, "invalid containerPort: 70000"},
		{"300.1.1.1:80:80", nil, "invalid ip address: 300.1.1.1"},
		{"8000-8002:80-81", nil, "invalid ranges"},
		{"81-80", nil, "invalid containerPort"},
		{"1:2:3:4", nil, "invalid port specification"},
		{"[::1]:80:80", nil, "not supported"},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSpec(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"80", "1.2.3.4:80:80/udp", "8000-8010:80-90", "[::1]::80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bs, err := ParseSpec(s)
		if err != nil {
			return
		}
		for _, b := range bs {
			if b.ContainerPort == 0 || (b.Proto != "tcp" && b.Proto != "udp") {
				t.Fatalf("ParseSpec(%q) gave %+v", s, b)
			}
		}
	})
}

func TestParseExposed(t *testing.T) {
	if p, proto, err := ParseExposed("80/tcp"); err != nil || p != 80 || proto != "tcp" {
		t.Errorf("80/tcp: %d %s %v", p, proto, err)
	}
	if p, proto, err := ParseExposed("53/udp"); err != nil || p != 53 || proto != "udp" {
		t.Errorf("53/udp: %d %s %v", p, proto, err)
	}
	for _, bad := range []string{"", "x/tcp", "80/sctp", "0/tcp"} {
		if _, _, err := ParseExposed(bad); err == nil {
			t.Errorf("ParseExposed(%q) accepted", bad)
		}
	}
}

func TestMappingStrings(t *testing.T) {
	m := Mapping{HostIP: "0.0.0.0", HostPort: 49153, ContainerPort: 80, Proto: "tcp"}
	if m.String() != "0.0.0.0:49153->80/tcp" || m.Port() != "80/tcp" || m.Host() != "0.0.0.0:49153" {
		t.Errorf("%s | %s | %s", m, m.Port(), m.Host())
	}
}

// backend is a TCP echo server that answers after the client half-closes,
// and a UDP echo server, both on the same port of 127.0.0.1.
func backend(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write(append([]byte("echo:"), b...))
			}()
		}
	}()
	u, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Skipf("UDP port %d taken: %v", port, err)
	}
	t.Cleanup(func() { u.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			u.WriteTo(append([]byte("udp:"), buf[:n]...), from)
		}
	}()
	return uint16(port)
}

func TestProxy(t *testing.T) {
	port := backend(t)
	files, maps, err := Bind([]Binding{
		{HostIP: "127.0.0.1", ContainerPort: port, Proto: "tcp"},
		{HostIP: "127.0.0.1", ContainerPort: port, Proto: "udp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if maps[0].HostPort == 0 || maps[0].HostPort == port || maps[1].HostPort == 0 {
		t.Fatalf("ports not chosen: %+v", maps)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, files, maps, netip.MustParseAddr("127.0.0.1")) }()

	c, err := net.Dial("tcp4", maps[0].Host())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "echo:hello" {
		t.Errorf("TCP through the proxy: %q", got)
	}

	u, err := net.Dial("udp4", maps[1].Host())
	if err != nil {
		t.Fatal(err)
	}
	u.SetDeadline(time.Now().Add(5 * time.Second))
	u.Write([]byte("ping"))
	buf := make([]byte, 100)
	n, err := u.Read(buf)
	if err != nil || string(buf[:n]) != "udp:ping" {
		t.Errorf("UDP through the proxy: %q %v", buf[:n], err)
	}
	u.Close()

	// A second bind of the same host port clashes as Docker says.
	_, _, err = Bind([]Binding{{HostIP: "127.0.0.1", HostPort: maps[0].HostPort, ContainerPort: 80, Proto: "tcp"}})
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "port is already allocated") {
		t.Errorf("clash: %v", err)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
	if _, err := net.Dial("tcp4", maps[0].Host()); err == nil {
		t.Error("listener still open after Serve ended")
	}
}
