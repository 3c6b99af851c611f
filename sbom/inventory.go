package sbom

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
)

// scanner holds the settings of one inventory run.
type scanner struct {
	tempDir     string
	memLimit    int64
	copyLimit   int64 // the largest candidate copied out of a tar to be parsed
	parallelism int
	progress    func(done, total int)
}

// Option changes how Inventory works.
type Option func(*scanner)

// WithTempDir sets where large candidate files (big binaries, rpm databases)
// are copied while they are read; the default is os.TempDir().
func WithTempDir(dir string) Option { return func(s *scanner) { s.tempDir = dir } }

// WithParallelism sets how many layers are read at once (default GOMAXPROCS).
func WithParallelism(n int) Option {
	return func(s *scanner) {
		if n > 0 {
			s.parallelism = n
		}
	}
}

// WithMemoryLimit sets the size up to which a candidate file from a tar
// stream is held in memory rather than in a temporary file (default 64 MiB).
func WithMemoryLimit(n int64) Option { return func(s *scanner) { s.memLimit = n } }

// WithProgress calls fn each time a layer has been read, so a command can
// show progress on a large image. fn is called from one goroutine at a time.
func WithProgress(fn func(done, total int)) Option { return func(s *scanner) { s.progress = fn } }

// Inventory lists the packages installed in the image made of layers,
// lowest layer first. An error is returned only when a layer cannot be opened
// at all or ctx is done; damaged files become SBOM.Warnings.
func Inventory(ctx context.Context, layers []Layer, opts ...Option) (*SBOM, error) {
	s := &scanner{tempDir: os.TempDir(), memLimit: 64 << 20, copyLimit: maxCopySize, parallelism: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		o(s)
	}
	scans := make([]*layerScan, len(layers))
	errs := make([]error, len(layers))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	sem := make(chan struct{}, s.parallelism)
	for i, l := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			scans[i], errs[i] = s.scanLayer(ctx, i, l)
			if s.progress != nil {
				mu.Lock()
				done++
				s.progress(done, len(layers))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return merge(scans), nil
}

func (s *scanner) scanLayer(ctx context.Context, i int, l Layer) (*layerScan, error) {
	ls := newLayerScan(i, l.DiffID())
	if dl, ok := l.(DirLayer); ok && dl.Dir() != "" {
		if err := s.scanDir(ctx, ls, dl.Dir()); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.DiffID(), err)
		}
		return ls, nil
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening layer %d (%s): %w", i, l.DiffID(), err)
	}
	defer rc.Close()
	s.scanTar(ctx, ls, rc)
	return ls, ctx.Err()
}
