package analysis

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/hub/meta"
)

// A push never waits for the analysis queue: a full queue drops the work,
// and the next sweep finds it again among the unanalysed manifests.
func TestAnalysisQueueNeverBlocks(t *testing.T) {
	ctx := context.Background()
	s, err := meta.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := &Analyser{store: s, log: slog.New(slog.NewTextHandler(io.Discard, nil)), workers: 1, queue: make(chan job, 2), pending: map[digest.Digest]bool{}}
	var ms []meta.Manifest
	for i := range 4 {
		m := meta.Manifest{Repo: "team/app", Digest: digest.FromString(string(rune('a' + i))), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 1}
		if err := s.PutManifest(ctx, m, string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, m := range append(ms, ms[0]) { // the last is already queued
		a.Enqueue(m)
	}
	if len(a.queue) != 2 || !a.dropped.Load() || len(a.pending) != 2 {
		t.Fatalf("queue %d, dropped %v, pending %d", len(a.queue), a.dropped.Load(), len(a.pending))
	}
	// Drain as workers would, then sweep: the dropped two come back.
	for range 2 {
		j := <-a.queue
		delete(a.pending, j.digest)
		if err := s.PutAnalysis(ctx, meta.Analysis{Digest: j.digest, Status: meta.AnalysisDone}); err != nil {
			t.Fatal(err)
		}
	}
	a.dropped.Store(false)
	a.sweep(ctx)
	if len(a.queue) != 2 || a.dropped.Load() {
		t.Fatalf("after the sweep: queue %d, dropped %v", len(a.queue), a.dropped.Load())
	}
	for range 2 {
		if j := <-a.queue; j.digest != ms[2].Digest && j.digest != ms[3].Digest {
			t.Errorf("swept %s, want one of the dropped", j.digest)
		}
	}
}
