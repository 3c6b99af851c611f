package network

import (
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// ipam hands out the subnet's addresses. Each address in use is a file named
// after it, made with O_EXCL, so concurrent berth processes never hand out
// the same one and no lock is needed. A file records the owner and the boot
// it was made in: an address from an earlier boot is free again, since its
// namespace is gone.
type ipam struct {
	dir    string
	subnet netip.Prefix
	bootID string
}

// gateway is the bridge's own address, the subnet's first host.
func gateway(subnet netip.Prefix) netip.Addr {
	return subnet.Masked().Addr().Next()
}

func (a *ipam) allocate(owner string) (netip.Addr, error) {
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return netip.Addr{}, fmt.Errorf("ipam: %w", err)
	}
	first := gateway(a.subnet).Next()
	size := 1 << (first.BitLen() - a.subnet.Bits())
	hosts := size - 3 // network, gateway, broadcast
	if hosts <= 0 {
		return netip.Addr{}, errdefs.Newf(errdefs.ErrInvalid, "subnet %s has no room for containers", a.subnet)
	}
	// Start anywhere so that concurrent allocations rarely meet.
	start := mrand.IntN(hosts)
	for i := range hosts {
		ip := nth(first, (start+i)%hosts)
		ok, err := a.claim(ip, owner)
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			return ip, nil
		}
	}
	return netip.Addr{}, errdefs.Newf(errdefs.ErrConflict, "no free address left in %s", a.subnet)
}

func nth(ip netip.Addr, n int) netip.Addr {
	b := ip.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (a *ipam) claim(ip netip.Addr, owner string) (bool, error) {
	path := filepath.Join(a.dir, ip.String())
	for range 2 {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.WriteString(owner + " " + a.bootID + "\n")
			cerr := f.Close()
			if werr != nil || cerr != nil {
				_ = os.Remove(path)
				return false, fmt.Errorf("ipam: record %s: %w", ip, errors.Join(werr, cerr))
			}
			return true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("ipam: %w", err)
		}
		if !a.stale(path) {
			return false, nil
		}
		// From an earlier boot: take it over. Removing and re-creating
		// keeps O_EXCL the arbiter if two processes race here.
		_ = os.Remove(path)
	}
	return false, nil
}

func (a *ipam) stale(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	_, boot, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	// An empty file is one being written right now.
	return ok && boot != a.bootID
}

// release frees ip if owner holds it.
func (a *ipam) release(ip netip.Addr, owner string) error {
	path := filepath.Join(a.dir, ip.String())
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ipam: %w", err)
	}
	if got, _, _ := strings.Cut(strings.TrimSpace(string(b)), " "); got != owner {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ipam: %w", err)
	}
	return nil
}

// owners reads every allocation: the addresses held by each owner.
func (a *ipam) owners() (map[string][]netip.Addr, error) {
	entries, err := os.ReadDir(a.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ipam: %w", err)
	}
	out := map[string][]netip.Addr{}
	for _, e := range entries {
		ip, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.dir, e.Name()))
		if err != nil {
			continue // released meanwhile
		}
		if owner, _, ok := strings.Cut(strings.TrimSpace(string(b)), " "); ok {
			out[owner] = append(out[owner], ip)
		}
	}
	return out, nil
}
