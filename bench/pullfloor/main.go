// Command pullfloor measures the floor under a pull: read gzip layer
// blobs, hash them, gunzip them and write their files, every layer at
// once, and nothing else (no network, no database, no verification of
// the diff IDs, no fsync). bench/pull.sh compares berth pull with it.
//
//	pullfloor -out DIR BLOB...
//
// It prints the wall time in seconds.
package main

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/berth-dev/berth/bench/internal/floor"
)

func main() {
	out := flag.String("out", "", "directory to write the layers' files under (one subdirectory per layer)")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: pullfloor -out DIR BLOB...")
		os.Exit(2)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, flag.NArg())
	for i, blob := range flag.Args() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = layer(blob, filepath.Join(*out, strconv.Itoa(i)))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, "pullfloor:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
}

func layer(blob, dir string) error {
	f, err := os.Open(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.TeeReader(f, h), 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", blob, err)
	}
	tr := tar.NewReader(zr)
	if err := floor.WriteFiles(tr, dir); err != nil {
		return fmt.Errorf("%s: %w", blob, err)
	}
	_, err = io.Copy(h, f) // the rest of the blob is hashed too
	return err
}
