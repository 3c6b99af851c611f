package shim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// consoleSocket is where runc sends the master end of a process's pty. It
// lives in a short directory: a socket path must fit in 108 bytes and runc,
// another process, cannot use a /proc/self/fd shortcut of ours.
type consoleSocket struct {
	l    *net.UnixListener
	path string
}

func newConsoleSocket(dir string) (*consoleSocket, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	path := filepath.Join(dir, hex.EncodeToString(b)+".sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	l.SetUnlinkOnClose(true)
	return &consoleSocket{l: l, path: path}, nil
}

// receive takes the master runc sends. Closing the socket (when runc fails
// before sending) ends the wait with an error.
func (c *consoleSocket) receive() (*os.File, error) {
	conn, err := c.l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive pty master: bad control message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive pty master: no descriptor")
	}
	unix.CloseOnExec(fds[0])
	// Non-blocking, so the runtime poller serves it and Close ends a read.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

func (c *consoleSocket) close() { c.l.Close() }

// resize sets the terminal size of a pty master.
func resize(master *os.File, height, width uint16) error {
	rc, err := master.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
	})
	if err != nil {
		return err
	}
	return ierr
}
