package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// fileLock is an exclusive flock on a file. The kernel drops it when the
// process dies, so a killed berth never leaves a lock behind.
type fileLock struct{ f *os.File }

// lockPath takes an exclusive flock on path, creating the file, waiting until
// ctx is done for another process to let go. The holder may remove the file
// before unlocking: a waiter that then gets the lock of the removed file
// notices and starts over on the new one.
func lockPath(ctx context.Context, path string) (*fileLock, error) {
	for {
		l, err := lockOnce(ctx, path)
		if err != nil || l != nil {
			return l, err
		}
	}
}

// lockOnce returns nil, nil when the locked file was removed meanwhile.
func lockOnce(ctx context.Context, path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	wait := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if !sameFile(f, path) {
				f.Close()
				return nil, nil
			}
			return &fileLock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// tryLockPath takes the lock only if it is free; ok is false when another
// process holds it.
func tryLockPath(path string) (l *fileLock, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	if !sameFile(f, path) {
		f.Close()
		return nil, false, nil
	}
	return &fileLock{f: f}, true, nil
}

func sameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// release removes the lock file and unlocks: lockPath's waiters start over.
func (l *fileLock) release() {
	if l != nil && l.f != nil {
		os.Remove(l.f.Name())
		l.unlock()
	}
}

func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close() // closing the only descriptor releases the flock
		l.f = nil
	}
}

// lockName serialises work on one named thing (a blob, a layer) across processes.
func (s *Store) lockName(ctx context.Context, name string) (*fileLock, error) {
	return lockPath(ctx, filepath.Join(s.root, locksDir, name))
}
