// Package portproxy publishes container ports on the host without iptables:
// each published port is a listener on the host (TCP or UDP) that forwards
// to the container's own address, never to its loopback, so a service a
// container binds to 127.0.0.1 stays private, as with Docker's proxy.
//
// The listeners are opened by the process that starts the container, so it
// can report a port clash at once and knows the ports chosen for -p 0:80,
// and are served by the container's shim, which outlives it.
package portproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// Binding is one port to publish, as -p or -P asked.
type Binding struct {
	// HostIP is the host address to listen on; "" means every one.
	HostIP string `json:",omitempty"`
	// HostPort 0 takes a free port.
	HostPort      uint16 `json:",omitempty"`
	ContainerPort uint16
	Proto         string // "tcp" or "udp"
}

// Mapping is a published port as bound.
type Mapping struct {
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
	Proto         string
}

// String formats the mapping as `docker ps` shows it: 0.0.0.0:49153->80/tcp.
func (m Mapping) String() string {
	return fmt.Sprintf("%s->%d/%s", netip.AddrPortFrom(netip.MustParseAddr(m.HostIP), m.HostPort), m.ContainerPort, m.Proto)
}

// Port is the container side, as `docker port` names it: 80/tcp.
func (m Mapping) Port() string { return fmt.Sprintf("%d/%s", m.ContainerPort, m.Proto) }

// Host is the host side: 0.0.0.0:49153.
func (m Mapping) Host() string {
	return netip.AddrPortFrom(netip.MustParseAddr(m.HostIP), m.HostPort).String()
}

// ParseSpec parses a -p value, [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO], where
// either port may be a range (8000-8010:80-90), as Docker does.
func ParseSpec(s string) ([]Binding, error) {
	rest, proto := s, "tcp"
	if i := strings.LastIndex(s, "/"); i >= 0 {
		rest, proto = s[:i], strings.ToLower(s[i+1:])
	}
	if proto != "tcp" && proto != "udp" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid proto: %s", proto)
	}
	var ip, host, ctr string
	switch parts := splitHostIP(rest); len(parts) {
	case 1:
		ctr = parts[0]
	case 2:
		host, ctr = parts[0], parts[1]
	case 3:
		ip, host, ctr = parts[0], parts[1], parts[2]
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid port specification: %q", s)
	}
	if ctr == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "no port specified: %s<empty>", s)
	}
	if ip != "" {
		addr, err := netip.ParseAddr(strings.Trim(ip, "[]"))
		if err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid ip address: %s", ip)
		}
		if !addr.Is4() {
			return nil, errdefs.Newf(errdefs.ErrUnsupported, "IPv6 host address %s: IPv6 publishing is not supported", ip)
		}
		ip = addr.String()
	}
	cLo, cHi, err := parseRange(ctr)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid containerPort: %s", ctr)
	}
	hLo, hHi := uint16(0), uint16(0)
	if host != "" {
		if hLo, hHi, err = parseRange(host); err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid hostPort: %s", host)
		}
	}
	n := int(cHi - cLo)
	if host != "" && hLo != 0 && int(hHi-hLo) != n {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid ranges specified for container and host Ports: %s and %s", ctr, host)
	}
	if cLo == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid containerPort: %s", ctr)
	}
	out := make([]Binding, 0, n+1)
	for i := 0; i <= n; i++ {
		b := Binding{HostIP: ip, ContainerPort: cLo + uint16(i), Proto: proto}
		if hLo != 0 {
			b.HostPort = hLo + uint16(i)
		}
		out = append(out, b)
	}
	return out, nil
}

// splitHostIP splits on colons, keeping a bracketed IPv6 address whole.
func splitHostIP(s string) []string {
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "]"); end > 0 {
			rest := strings.Split(strings.TrimPrefix(s[end+1:], ":"), ":")
			return append([]string{s[:end+1]}, rest...)
		}
	}
	return strings.Split(s, ":")
}

func parseRange(s string) (uint16, uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
			return 0, 0, err
		}
		if b < a {
			return 0, 0, fmt.Errorf("range %s ends before it starts", s)
		}
	}
	return uint16(a), uint16(b), nil
}

// ParseExposed parses an image's exposed port, "80/tcp" (or "80").
func ParseExposed(s string) (uint16, string, error) {
	port, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 || (proto != "tcp" && proto != "udp") {
		return 0, "", errdefs.Newf(errdefs.ErrInvalid, "invalid exposed port %q", s)
	}
	return uint16(p), proto, nil
}
