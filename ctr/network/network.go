// Package network gives containers their own network namespace on a berth
// bridge, without iptables and without NAT.
//
// The bridge (berth0 by default) holds the subnet's first address; each
// container gets a namespace with loopback and one end of a veth pair as
// eth0, the other end on the bridge, an address of its own and a default
// route through the bridge. The host reaches every container at its address
// and containers reach each other and the host the same way. Published ports
// are served by a userland proxy (package portproxy) that connects to the
// container's address, so what a container binds to its loopback stays
// private.
//
// State lives under the run directory (/run/berth): the namespaces' bind
// mounts (netns/) and the address allocations (ipam/). Everything there is
// gone, or recognised as stale, after a reboot.
package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Defaults: a private range that clashes neither with Docker's bridges
// (172.17.0.0/16 and up) nor with podman's (10.88.0.0/16).
const (
	DefaultBridge = "berth0"
	DefaultSubnet = "10.77.0.0/16"
	DefaultRunDir = "/run/berth"
)

// Config places the network.
type Config struct {
	Bridge string
	Subnet netip.Prefix
	RunDir string
}

// Network attaches containers to the bridge.
type Network struct {
	cfg  Config
	ipam *ipam
}

// New returns the network for cfg, with defaults for what is unset.
func New(cfg Config) (*Network, error) {
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = netip.MustParsePrefix(DefaultSubnet)
	}
	if !cfg.Subnet.Addr().Is4() {
		return nil, fmt.Errorf("subnet %s: only IPv4 subnets are supported", cfg.Subnet)
	}
	cfg.Subnet = cfg.Subnet.Masked()
	if cfg.RunDir == "" {
		cfg.RunDir = DefaultRunDir
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil, fmt.Errorf("read boot id: %w", err)
	}
	dir := filepath.Join(cfg.RunDir, "ipam", strings.ReplaceAll(cfg.Subnet.String(), "/", "-"))
	return &Network{cfg: cfg, ipam: &ipam{dir: dir, subnet: cfg.Subnet, bootID: strings.TrimSpace(string(boot))}}, nil
}

// Endpoint is a container's attachment, recorded with the container so it
// can be undone by another process, or after a reboot.
type Endpoint struct {
	NetNS     string
	IP        netip.Addr
	Gateway   netip.Addr
	PrefixLen int
	MAC       string
	HostVeth  string
	Bridge    string
}

// Attach makes a network namespace for container id and connects it to the
// bridge. On error nothing is left behind.
func (n *Network) Attach(ctx context.Context, id string) (ep *Endpoint, err error) {
	br, err := n.bridge()
	if err != nil {
		return nil, err
	}
	ip, err := n.ipam.allocate(id)
	if err != nil {
		return nil, err
	}
	ep = &Endpoint{
		NetNS:     n.nsPath(id),
		IP:        ip,
		Gateway:   gateway(n.cfg.Subnet),
		PrefixLen: n.cfg.Subnet.Bits(),
		MAC:       macFor(ip).String(),
		HostVeth:  vethName(id),
		Bridge:    n.cfg.Bridge,
	}
	// Undo exactly what this call made: the same ID attached twice must
	// not tear down the first attachment.
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			ep = nil
		}
	}()
	undo = append(undo, func() { _ = n.ipam.release(ip, id) })
	if err := os.MkdirAll(filepath.Dir(ep.NetNS), 0o700); err != nil {
		return nil, err
	}
	if err := newNS(ep.NetNS); err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = removeNS(ep.NetNS) })
	ns, err := netns.GetFromPath(ep.NetNS)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: ep.HostVeth, MasterIndex: br.Attrs().Index, MTU: br.Attrs().MTU},
		PeerName:         "eth0",
		PeerNamespace:    netlink.NsFd(int(ns)),
		PeerHardwareAddr: macFor(ip),
		PeerMTU:          uint32(br.Attrs().MTU),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("add veth %s: %w", ep.HostVeth, err)
	}
	undo = append(undo, func() { _ = netlink.LinkDel(veth) })
	if err := netlink.LinkSetUp(veth); err != nil {
		return nil, fmt.Errorf("set %s up: %w", ep.HostVeth, err)
	}
	if err := configureInside(ns, ep); err != nil {
		return nil, err
	}
	return ep, nil
}

// configureInside brings up lo and eth0 in the namespace, with the address
// and the default route.
func configureInside(ns netns.NsHandle, ep *Endpoint) error {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in container namespace: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("container lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("container eth0: %w", err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ep.IP.AsSlice(), Mask: net.CIDRMask(ep.PrefixLen, 32)}}
	if err := h.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("address %s on eth0: %w", ep.IP, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("set eth0 up: %w", err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: ep.Gateway.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("default route via %s: %w", ep.Gateway, err)
	}
	return nil
}

// Detach undoes Attach; each step tolerates what is already gone, so it
// serves after a crash or a reboot too.
func (n *Network) Detach(ctx context.Context, id string, ep *Endpoint) error {
	if ep == nil {
		return nil
	}
	var errs []error
	if ep.HostVeth != "" {
		if l, err := netlink.LinkByName(ep.HostVeth); err == nil {
			if err := netlink.LinkDel(l); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
				errs = append(errs, fmt.Errorf("delete %s: %w", ep.HostVeth, err))
			}
		}
	}
	if ep.NetNS != "" {
		errs = append(errs, removeNS(ep.NetNS))
	}
	if ep.IP.IsValid() {
		errs = append(errs, n.ipam.release(ep.IP, id))
	}
	return errors.Join(errs...)
}

// Scrub undoes an attachment of container id that was never recorded (its
// starter died between Attach and writing it down): the namespace and veth
// have names derived from id, and the address file names its owner. It is
// cheap when there is nothing to undo.
func (n *Network) Scrub(ctx context.Context, id string) error {
	if !n.Attached(id) {
		return nil
	}
	return n.Forget(ctx, id)
}

// Attached reports whether container id has a namespace or a veth on the
// host, recorded or not.
func (n *Network) Attached(id string) bool {
	if _, err := os.Stat(n.nsPath(id)); err == nil {
		return true
	}
	_, err := netlink.LinkByName(vethName(id))
	return err == nil
}

// Forget removes every trace of container id's attachment: its namespace,
// its veth and any address it holds, even one whose namespace is already
// gone (Attach and Detach were killed between the two). It reads every
// address allocation; Scrub is the cheap form.
func (n *Network) Forget(ctx context.Context, id string) error {
	ep := &Endpoint{NetNS: n.nsPath(id), HostVeth: vethName(id)}
	errs := []error{n.Detach(ctx, id, ep)}
	owners, err := n.ipam.owners()
	errs = append(errs, err)
	for _, ip := range owners[id] {
		errs = append(errs, n.ipam.release(ip, id))
	}
	return errors.Join(errs...)
}

// Owners returns the addresses in use, by the container that holds each.
// The run directory may be shared by several berth stores: an owner this
// store does not know is not necessarily gone.
func (n *Network) Owners() (map[string][]netip.Addr, error) {
	return n.ipam.owners()
}

func (n *Network) nsPath(id string) string { return filepath.Join(n.cfg.RunDir, "netns", id) }

// bridge returns the bridge, making it first if needed. Several processes
// may race to make it: each tolerates the others' work.
func (n *Network) bridge() (netlink.Link, error) {
	br, err := netlink.LinkByName(n.cfg.Bridge)
	if err == nil && br.Attrs().Flags&net.FlagUp != 0 {
		return br, nil
	}
	if err != nil {
		la := netlink.NewLinkAttrs()
		la.Name = n.cfg.Bridge
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("create bridge %s: %w", n.cfg.Bridge, err)
		}
		if br, err = netlink.LinkByName(n.cfg.Bridge); err != nil {
			return nil, fmt.Errorf("bridge %s: %w", n.cfg.Bridge, err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gateway(n.cfg.Subnet).AsSlice(), Mask: net.CIDRMask(n.cfg.Subnet.Bits(), 32)}}
	if err := netlink.AddrAdd(br, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("address %s on %s: %w", addr, n.cfg.Bridge, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("set %s up: %w", n.cfg.Bridge, err)
	}
	return netlink.LinkByName(n.cfg.Bridge)
}

// vethName is the host end's name: unique per container and within
// IFNAMSIZ.
func vethName(id string) string {
	if len(id) > 12 {
		id = id[:12]
	}
	return "bth" + id
}

// macFor derives the MAC from the address, as Docker does (02:42 + IPv4).
func macFor(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}
