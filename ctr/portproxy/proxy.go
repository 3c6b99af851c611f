package portproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// Bind opens the host side of each binding, taking free ports where asked,
// and returns the sockets as files to hand to the shim. On error nothing
// stays open.
func Bind(bindings []Binding) (files []*os.File, mappings []Mapping, err error) {
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			files, mappings = nil, nil
		}
	}()
	for _, b := range bindings {
		ip := b.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		addr := net.JoinHostPort(ip, strconv.Itoa(int(b.HostPort)))
		var f *os.File
		var port int
		switch b.Proto {
		case "tcp":
			l, err := net.Listen("tcp4", addr)
			if err != nil {
				return files, nil, bindError(ip, b.HostPort, err)
			}
			port = l.Addr().(*net.TCPAddr).Port
			f, err = l.(*net.TCPListener).File()
			l.Close()
			if err != nil {
				return files, nil, err
			}
		case "udp":
			c, err := net.ListenPacket("udp4", addr)
			if err != nil {
				return files, nil, bindError(ip, b.HostPort, err)
			}
			port = c.LocalAddr().(*net.UDPAddr).Port
			f, err = c.(*net.UDPConn).File()
			c.Close()
			if err != nil {
				return files, nil, err
			}
		default:
			return files, nil, errdefs.Newf(errdefs.ErrInvalid, "invalid proto: %s", b.Proto)
		}
		files = append(files, f)
		mappings = append(mappings, Mapping{HostIP: ip, HostPort: uint16(port), ContainerPort: b.ContainerPort, Proto: b.Proto})
	}
	return files, mappings, nil
}

func bindError(ip string, port uint16, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return errdefs.Newf(errdefs.ErrConflict, "Bind for %s:%d failed: port is already allocated", ip, port)
	}
	return errdefs.Newf(errdefs.ErrInvalid, "Bind for %s:%d failed: %v", ip, port, err)
}

// UDPIdleTimeout ends a UDP flow nobody has used for this long, as Docker's
// proxy does.
const UDPIdleTimeout = 90 * time.Second

// Serve forwards the traffic of each socket in files (as Bind returned them,
// in the order of mappings) to the same port at target, until ctx ends.
func Serve(ctx context.Context, files []*os.File, mappings []Mapping, target netip.Addr) error {
	if len(files) != len(mappings) {
		return errdefs.Newf(errdefs.ErrInvalid, "%d sockets for %d port mappings", len(files), len(mappings))
	}
	var wg sync.WaitGroup
	for i, f := range files {
		dst := netip.AddrPortFrom(target, mappings[i].ContainerPort)
		switch mappings[i].Proto {
		case "tcp":
			l, err := net.FileListener(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("port %s: %w", mappings[i], err)
			}
			wg.Go(func() { serveTCP(ctx, l, dst) })
		case "udp":
			c, err := net.FilePacketConn(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("port %s: %w", mappings[i], err)
			}
			wg.Go(func() { serveUDP(ctx, c.(*net.UDPConn), dst) })
		}
	}
	wg.Wait()
	return nil
}

func serveTCP(ctx context.Context, l net.Listener, dst netip.AddrPort) {
	var conns sync.Map
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	})
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of fds: let some close
			continue
		}
		conns.Store(c, nil)
		wg.Go(func() {
			defer conns.Delete(c)
			forwardTCP(c.(*net.TCPConn), dst)
		})
	}
}

// forwardTCP joins a client to the container; each direction is shut down
// on its own so half-closed protocols work.
func forwardTCP(client *net.TCPConn, dst netip.AddrPort) {
	defer client.Close()
	d := net.Dialer{Timeout: 10 * time.Second}
	up, err := d.Dial("tcp4", dst.String())
	if err != nil {
		return
	}
	server := up.(*net.TCPConn)
	defer server.Close()
	var wg sync.WaitGroup
	pipe := func(dst, src *net.TCPConn) {
		_, _ = io.Copy(dst, src)
		_ = dst.CloseWrite()
	}
	wg.Go(func() { pipe(server, client) })
	pipe(client, server)
	wg.Wait()
}

func serveUDP(ctx context.Context, l *net.UDPConn, dst netip.AddrPort) {
	var mu sync.Mutex
	flows := map[netip.AddrPort]*net.UDPConn{}
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range flows {
			c.Close()
		}
	})
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, 65535)
	for {
		n, from, err := l.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		mu.Lock()
		up, ok := flows[from]
		if !ok {
			up, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
			if err != nil {
				mu.Unlock()
				continue
			}
			flows[from] = up
			wg.Go(func() {
				replyUDP(l, up, from)
				mu.Lock()
				delete(flows, from)
				mu.Unlock()
				up.Close()
			})
		}
		mu.Unlock()
		_ = up.SetReadDeadline(time.Now().Add(UDPIdleTimeout))
		_, _ = up.Write(buf[:n])
	}
}

// replyUDP sends the container's answers back to the client until the flow
// is idle.
func replyUDP(l *net.UDPConn, up *net.UDPConn, client netip.AddrPort) {
	buf := make([]byte, 65535)
	for {
		_ = up.SetReadDeadline(time.Now().Add(UDPIdleTimeout))
		n, err := up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP port unreachable: the service is not up yet
		}
		if _, err := l.WriteToUDPAddrPort(buf[:n], client); err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
	}
}
