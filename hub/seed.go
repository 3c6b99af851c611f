package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/names"
	"github.com/berth-dev/berth/hub/seed"
)

// SeedConfig says how to build the welcome image a new hub starts with.
type SeedConfig struct {
	// Executable becomes /usr/local/bin/welcome; berth's own binary serves
	// the welcome page when run under that name. Tests may use any file.
	Executable string
	// Busybox is a static busybox for the image's shell; if missing the
	// image is seeded without it and a warning is logged.
	Busybox string
	// Stars is the star count the repository starts with.
	Stars int64
}

// WelcomeRepo is where the seeded image lives.
const WelcomeRepo = "library/welcome"

// seed puts the welcome image in a hub that never had it. A marker file
// under the root keeps a deleted welcome image deleted.
func (h *Hub) seed(ctx context.Context, cfg SeedConfig) error {
	marker := ""
	if h.cfg.Root != "" {
		marker = filepath.Join(h.cfg.Root, ".seeded")
		if _, err := os.Stat(marker); err == nil {
			return nil
		}
	}
	if _, err := h.meta.Tag(ctx, WelcomeRepo, "latest"); err == nil {
		return nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	start := time.Now()
	im, warning, err := seed.Welcome(seed.WelcomeOptions{Executable: cfg.Executable, Busybox: cfg.Busybox})
	if err != nil {
		return err
	}
	if warning != "" {
		h.log.Warn("seeding the welcome image without busybox", "reason", warning)
	}
	if err := h.PutImage(ctx, WelcomeRepo, im, "latest"); err != nil {
		return err
	}
	stars := cfg.Stars
	if stars == 0 {
		stars = 42
	}
	desc, full, badge := seed.WelcomeDescription, seed.WelcomeFullDescription, meta.BadgeOfficial
	if _, err := h.meta.UpdateRepo(ctx, WelcomeRepo, meta.RepoUpdate{Description: &desc, FullDescription: &full, Badge: &badge, Stars: &stars}); err != nil {
		return err
	}
	if marker != "" {
		_ = os.WriteFile(marker, []byte(im.Digest.String()+"\n"), 0o644)
	}
	h.log.Info("seeded the welcome image", "repository", "welcome:latest", "digest", im.Digest, "layers", len(im.Layers), "duration", time.Since(start))
	return nil
}

// PutImage stores a built image's blobs and manifest in repo (canonical or
// short) and tags it. Seeding and tests use it.
func (h *Hub) PutImage(ctx context.Context, repo string, im seed.Image, tags ...string) error {
	repo = names.Canonical(repo)
	for _, b := range im.Blobs() {
		if _, err := h.blobs.Put(ctx, b.Digest, bytes.NewReader(b.Data)); err != nil {
			return fmt.Errorf("storing %s: %w", b.Digest, err)
		}
		if err := h.registry.LinkBlob(ctx, repo, b.Digest); err != nil {
			return err
		}
	}
	_, err := h.PutManifest(ctx, repo, im.Digest, im.MediaType, im.Manifest, tags...)
	return err
}
