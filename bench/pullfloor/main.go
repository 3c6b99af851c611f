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
	buf := make([]byte, 1<<20)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", blob, err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			err = writeFile(p, tr, os.FileMode(hdr.Mode)&0o7777, buf)
		case tar.TypeSymlink:
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			err = os.Symlink(hdr.Linkname, p)
		case tar.TypeLink:
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			err = os.Link(filepath.Join(dir, filepath.Clean("/"+hdr.Linkname)), p)
		}
		if err != nil {
			return err
		}
	}
	_, err = io.Copy(h, f) // the rest of the blob is hashed too
	return err
}

func writeFile(p string, r io.Reader, mode os.FileMode, buf []byte) error {
	w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if os.IsNotExist(err) {
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		w, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	}
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(w, r, buf); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
