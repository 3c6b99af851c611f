package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Durability is paid once per command, not per file, blob or layer.
// Content (blobs, unpacked layers) is renamed into place without an fsync;
// Update, before it commits metadata, makes everything durable with one
// syncfs of the store's filesystem if content was committed, or found
// present and reused, since the last one. So when a command that recorded
// an image returns, the image and everything it reaches survive a power
// cut.
//
// A power cut between a rename and that syncfs can leave torn content in
// place, reachable from no root but findable by a later command that
// would reuse it. Before the first such rename in a boot, a marker named by
// the boot ID is made durable under unsynced/; the first Open after a
// reboot that finds a marker of another boot sweeps every unreachable blob
// and layer (the leases of the last boot are all dead), then drops it.
// A killed process (no power cut) leaves its content in the page cache,
// whole, and the next command's syncfs writes it.

// contentCommitting is called before a blob or layer is renamed into
// place without a sync.
func (s *Store) contentCommitting() error {
	s.unsynced.Store(true)
	s.markOnce.Do(func() { s.markErr = s.markBoot() })
	return s.markErr
}

// markBoot makes this boot's marker durable, once per boot and store.
func (s *Store) markBoot() error {
	id, err := bootID()
	if err != nil {
		return err
	}
	dir := filepath.Join(s.root, unsyncedDir)
	path := filepath.Join(dir, id)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("boot marker: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return syncDir(s.root)
}

// syncContent makes the content committed so far durable, with one syncfs,
// if there is any.
func (s *Store) syncContent() error {
	if !s.unsynced.Swap(false) {
		return nil
	}
	if err := syncFS(s.root); err != nil {
		s.unsynced.Store(true)
		return err
	}
	s.syncs.Add(1)
	return nil
}

// recoverUnsynced sweeps what a power cut may have torn, if a marker of an
// earlier boot says content was renamed in without a sync then.
func (s *Store) recoverUnsynced(ctx context.Context) error {
	id, err := bootID()
	if err != nil {
		return err
	}
	dir := filepath.Join(s.root, unsyncedDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var stale []string
	for _, e := range entries {
		if e.Name() != id {
			stale = append(stale, filepath.Join(dir, e.Name()))
		}
	}
	if len(stale) == 0 {
		return nil
	}
	if _, err := s.Collect(ctx, nil); err != nil {
		return fmt.Errorf("sweeping what the last boot may have left torn: %w", err)
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// bootIDPath is where the kernel says which boot this is; a variable so a
// test can play a reboot.
var bootIDPath = "/proc/sys/kernel/random/boot_id"

func bootID() (string, error) {
	b, err := os.ReadFile(bootIDPath)
	if err != nil {
		return "", fmt.Errorf("reading the boot ID: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" || strings.ContainsAny(id, "/.") {
		return "", fmt.Errorf("boot ID %q: not a file name", id)
	}
	return id, nil
}
