// Command loadfloor measures the floor under a load: read each layer of a
// Docker archive (as `docker save` writes it) where it lies in the file,
// hash it, write its files, every layer at once, then one syncfs, and
// nothing else (no database, no diff ID check, no whiteouts, no metadata
// but the mode). bench/load.sh compares berth load with it.
//
//	loadfloor -out DIR ARCHIVE
//
// It prints the wall time in seconds, the syncfs included.
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/bench/internal/floor"
)

func main() {
	out := flag.String("out", "", "directory to write the layers' files under (one subdirectory per layer)")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: loadfloor -out DIR ARCHIVE")
		os.Exit(2)
	}
	start := time.Now()
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, "loadfloor:", err)
		os.Exit(1)
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
}

func run(archive, out string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	entries, err := index(f)
	if err != nil {
		return err
	}
	m, ok := entries["manifest.json"]
	if !ok {
		return errors.New("no manifest.json")
	}
	var manifest []struct{ Layers []string }
	if err := json.NewDecoder(m).Decode(&manifest); err != nil || len(manifest) == 0 {
		return fmt.Errorf("manifest.json: %v", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(manifest[0].Layers))
	for i, name := range manifest[0].Layers {
		sr, ok := entries[path.Clean(name)]
		if !ok {
			return fmt.Errorf("no layer %s", name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = layer(sr, filepath.Join(out, strconv.Itoa(i)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fd, err := unix.Open(out, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// index finds where each file of the archive lies, reading headers only.
func index(f *os.File) (map[string]*io.SectionReader, error) {
	entries := map[string]*io.SectionReader{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		entries[path.Clean(h.Name)] = io.NewSectionReader(f, off, h.Size)
	}
}

func layer(sr *io.SectionReader, dir string) error {
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(sr, h))
	if err := floor.WriteFiles(tr, dir); err != nil {
		return err
	}
	_, err := io.Copy(h, sr) // the rest of the layer is hashed too
	return err
}
