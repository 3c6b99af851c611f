package hub

import "context"

// SeedConfig says how to seed the welcome image.
type SeedConfig struct {
	Executable string
	Busybox    string
}

func (h *Hub) seed(ctx context.Context, cfg SeedConfig) error { return nil }
