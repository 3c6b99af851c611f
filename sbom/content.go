package sbom

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// maxTextSize bounds the manifests and databases read into memory; a dpkg
// status file of a large image is a few MB.
const maxTextSize = 256 << 20

// content is a candidate file's bytes, in memory or in a file on disk (the
// file of a DirLayer, or a tar entry spilled to a temporary file).
type content struct {
	path string // as users see it: "/var/lib/dpkg/status"
	size int64
	data []byte
	file *os.File
	temp bool // file is a temporary copy, removed on release
}

func (c *content) readerAt() io.ReaderAt {
	if c.file != nil {
		return c.file
	}
	return bytes.NewReader(c.data)
}

// bytes returns the whole content; for small text files.
func (c *content) bytes() ([]byte, error) {
	if c.file == nil {
		return c.data, nil
	}
	if c.size > maxTextSize {
		return nil, fmt.Errorf("file too large (%d bytes)", c.size)
	}
	b := make([]byte, c.size)
	if _, err := c.file.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// localPath returns a path on disk holding the content, for libraries that
// only open files by name; cleanup removes what it had to write.
func (c *content) localPath(tmpDir string) (string, func(), error) {
	if c.file != nil {
		return c.file.Name(), func() {}, nil
	}
	f, err := os.CreateTemp(tmpDir, "berth-sbom-*")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := f.Write(c.data); err != nil {
		cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}
