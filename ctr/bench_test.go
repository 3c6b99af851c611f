package ctr_test

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/ctr"
)

// runOnce is `berth run --rm IMAGE true` without the process start.
func runOnce(b *testing.B, m *ctr.Manager, network string) {
	ctx := context.Background()
	o := busybox("true")
	o.Network = network
	o.AutoRemove = true
	c, err := m.Create(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	s, err := m.Start(ctx, c.ID, &ctr.Streams{Stdout: discard{}, Stderr: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	if code, err := s.Wait(ctx); err != nil || code != 0 {
		b.Fatal(code, err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkRunNoNetwork(b *testing.B) {
	m := newManager(b)
	for b.Loop() {
		runOnce(b, m, "none")
	}
}

func BenchmarkRunBridge(b *testing.B) {
	m := newManager(b)
	for b.Loop() {
		runOnce(b, m, "bridge")
	}
}
