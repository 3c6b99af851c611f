package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// EtcFiles are the container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf, written on the host and bind-mounted in.
type EtcFiles struct {
	Hosts, Hostname, ResolvConf string
}

// WriteEtcFiles writes the three files into dir. With ep nil the container
// has no address of its own (--network none or host); host copies the
// host's hosts file as Docker does for --network host.
func WriteEtcFiles(dir, hostname string, ep *Endpoint, host bool) (EtcFiles, error) {
	f := EtcFiles{
		Hosts:      filepath.Join(dir, "hosts"),
		Hostname:   filepath.Join(dir, "hostname"),
		ResolvConf: filepath.Join(dir, "resolv.conf"),
	}
	hosts := []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	if host {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = b
		}
	} else if ep != nil {
		hosts = fmt.Appendf(hosts, "%s\t%s\n", ep.IP, hostname)
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !os.IsNotExist(err) {
		return f, fmt.Errorf("read host resolv.conf: %w", err)
	}
	if !host {
		resolv = containerResolvConf(resolv)
	}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.Hosts, hosts}, {f.Hostname, []byte(hostname + "\n")}, {f.ResolvConf, resolv}} {
		if err := os.WriteFile(w.path, w.data, 0o644); err != nil {
			return f, fmt.Errorf("write %s: %w", filepath.Base(w.path), err)
		}
	}
	return f, nil
}

// containerResolvConf drops the host's loopback name servers, which the
// container cannot reach in its own namespace, falling back to Google's as
// Docker does when none is left.
func containerResolvConf(host []byte) []byte {
	var out bytes.Buffer
	servers := 0
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if ip, err := netip.ParseAddr(fields[1]); err == nil && ip.IsLoopback() {
				continue
			}
			servers++
		}
		out.WriteString(line + "\n")
	}
	if servers == 0 {
		out.WriteString("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
	}
	return out.Bytes()
}
