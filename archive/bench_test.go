package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchTar builds a layer like a distribution's /usr: files of a few hundred bytes
// to a few KiB in nested directories, some symlinks and hardlinks, plus big files.
func benchTar(b *testing.B, small, big int, bigSize int) ([]byte, int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	content := make([]byte, max(bigSize, 64<<10))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	write := func(h *tar.Header, body []byte) {
		h.ModTime = epoch
		if err := tw.WriteHeader(h); err != nil {
			b.Fatal(err)
		}
		tw.Write(body)
	}
	entries := 0
	for d := range small / 20 {
		dir := fmt.Sprintf("usr/share/pkg%03d/sub%02d/", d/10, d%10)
		write(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}, nil)
		entries++
		for f := range 20 {
			name := fmt.Sprintf("%sfile%02d.txt", dir, f)
			switch {
			case f == 18:
				write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: "file00.txt", Mode: 0o777}, nil)
			case f == 19:
				write(&tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: dir + "file01.txt", Mode: 0o644}, nil)
			default:
				n := 200 + rng.IntN(6000)
				write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(n)}, content[:n])
			}
			entries++
		}
	}
	for i := range big {
		write(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("opt/big%d.bin", i), Mode: 0o755, Size: int64(bigSize)}, content[:bigSize])
		entries++
	}
	tw.Close()
	return buf.Bytes(), entries
}

// BenchmarkApply reports entries/s and MB/s of tar read. Run it on the disk layers
// live on (BERTH_BENCH_DIR, else the system temp dir); the caller's one syncfs per
// layer is not part of it.
func BenchmarkApply(b *testing.B) {
	for _, bc := range []struct {
		name           string
		small, big, sz int
	}{
		{"20k-small-files", 20000, 0, 0},
		{"4-big-files", 0, 4, 32 << 20},
		{"mixed", 20000, 4, 32 << 20},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data, entries := benchTar(b, bc.small, bc.big, bc.sz)
			base := os.Getenv("BERTH_BENCH_DIR")
			if base == "" {
				base = b.TempDir()
			}
			b.SetBytes(int64(len(data)))
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				layer := filepath.Join(base, fmt.Sprintf("layer%d", i))
				if err := os.Mkdir(layer, 0o755); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				before := cpuTime()
				if _, err := Apply(context.Background(), layer, bytes.NewReader(data), Options{}); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - before
				b.StopTimer()
				os.RemoveAll(layer)
				b.StartTimer()
			}
			b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			// CPU time (user+system, both cores) says more than wall time on a noisy
			// shared disk.
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}
