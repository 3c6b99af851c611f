// Package floor is what the benchmarks' floors do with a layer's tar: write
// its files and nothing else (no ownership, no times, no checks), so that
// berth's time can be set against the least any tool must spend.
package floor

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
)

// WriteFiles writes the entries of tr under dir.
func WriteFiles(tr *tar.Reader, dir string) error {
	buf := make([]byte, 1<<20)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
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
