package engine

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// A load from a stream (stdin) is read once, in order: when the archive
// tells its images (manifest, configs) before their layers, each layer is
// unpacked as its bytes go by, its tail (hardlinks, commit) overlapping the
// next layer's bytes. Otherwise, as `docker save` orders an archive, the
// layers cannot be told apart when they come, and the stream is spooled.

// headLimit bounds what a load keeps in memory from the head of a stream
// while it does not know the archive's images yet; a variable so a test
// can make it small.
var headLimit int64 = 64 << 20

// archiveHead is the head of an archive stream: the files read so far, the
// bytes they came in (to spool them if need be), and the images, once the
// head tells them.
type archiveHead struct {
	idx  *memIndex
	raw  bytes.Buffer
	tee  *headTee
	tr   *tar.Reader
	imgs []*archiveImage
}

// headTee keeps the bytes the tar reader consumes while the head is read.
type headTee struct {
	r   io.Reader
	buf *bytes.Buffer
	off bool
}

func (t *headTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if !t.off {
		t.buf.Write(p[:n])
	}
	return n, err
}

// memIndex is the small files of an archive read so far. While more files
// may come, names not read yet are taken to be coming, but for the
// manifests that tell which kind of archive it is.
type memIndex struct {
	files map[string][]byte
	size  int64
	more  bool
}

func (m *memIndex) has(name string) bool {
	name = path.Clean(name)
	if _, ok := m.files[name]; ok {
		return true
	}
	return m.more && name != "manifest.json" && name != "index.json"
}

func (m *memIndex) read(name string, limit int64) ([]byte, error) {
	b, ok := m.files[path.Clean(name)]
	if !ok {
		return nil, fmt.Errorf("the archive has no file %s: %w", name, errdefs.ErrInvalid)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s in the archive is %d bytes, more than %d: %w", name, len(b), limit, errdefs.ErrInvalid)
	}
	return b, nil
}

// readArchiveHead reads the head of an archive stream into memory until
// it tells the archive's images (head.imgs), or until a file that does not
// fit in memory comes first (head.imgs nil: the stream is to be spooled,
// head.raw first).
func readArchiveHead(src io.Reader) (*archiveHead, error) {
	h := &archiveHead{idx: &memIndex{files: map[string][]byte{}, more: true}}
	h.tee = &headTee{r: src, buf: &h.raw}
	h.tr = tar.NewReader(h.tee)
	for {
		hdr, err := h.tr.Next()
		if errors.Is(err, io.EOF) {
			h.idx.more = false
			h.imgs, err = archiveImages(h.idx)
			return h, err
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %v: %w", err, errdefs.ErrInvalid)
		}
		if hdr.Typeflag != tar.TypeReg {
			if hdr.Typeflag == tar.TypeDir {
				continue
			}
			return h, nil // a link: the file tells where it points
		}
		if h.idx.size+hdr.Size > headLimit {
			return h, nil
		}
		b, err := io.ReadAll(h.tr)
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %v: %w", err, errdefs.ErrInvalid)
		}
		h.idx.files[path.Clean(hdr.Name)] = b
		h.idx.size += hdr.Size
		// Only manifest.json decides early: after index.json, a
		// manifest.json may yet come, and a load reads it first.
		if h.idx.has("manifest.json") {
			if imgs, err := archiveImages(h.idx); err == nil {
				h.imgs = imgs
				h.tee.off = true
				return h, nil
			}
		}
	}
}

// layerStreams runs the unpacking of an archive stream's layers.
type layerStreams struct {
	e        *Engine
	ctx      context.Context
	cancel   context.CancelFunc
	progress ProgressFunc
	wg       sync.WaitGroup
}

// start unpacks a layer in the background; its done channel closes at the
// end. A pipe it reads from is closed then, so its writer never blocks.
func (s *layerStreams) start(j *layerJob, in layerInput) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		j.err = s.e.unpackLayer(s.ctx, j, in, s.progress)
		if in.pipe != nil {
			in.pipe.CloseWithError(errors.New("layer unpacked"))
		}
		if j.err != nil {
			s.cancel()
		}
		close(j.done)
	}()
}

// unpackStream unpacks the layers of the archive stream whose head h read:
// those in memory, those the rest of the stream brings, and last those the
// stream held once for several (a layer under two parents, or linked).
func (e *Engine) unpackStream(ctx context.Context, h *archiveHead, jobs []*layerJob, progress ProgressFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &layerStreams{e: e, ctx: ctx, cancel: cancel, progress: progress}
	byEntry := map[string][]*layerJob{}
	for _, j := range jobs {
		if j.skip {
			close(j.done)
			continue
		}
		byEntry[path.Clean(j.entry)] = append(byEntry[path.Clean(j.entry)], j)
	}
	var later []*layerJob
	for name, js := range byEntry {
		if data, ok := h.idx.files[name]; ok {
			s.start(js[0], memLayer(data, js[0].mediaType))
			later = append(later, js[1:]...)
			delete(byEntry, name)
		}
	}
	err := streamLayers(ctx, h.tr, byEntry, func(j *layerJob, in layerInput) { s.start(j, in) }, &later)
	for _, js := range byEntry {
		later = append(later, js...)
	}
	if err == nil {
		err = s.unpackLater(later, jobs)
	}
	if err != nil {
		cancel()
	}
	s.wg.Wait()
	for _, j := range jobs {
		if j.err != nil && !errors.Is(j.err, context.Canceled) {
			return j.err
		}
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// streamLayers reads the rest of the stream, handing each layer's bytes
// to start through a pipe as they come; jobs that share a layer one job
// read go to later.
func streamLayers(ctx context.Context, tr *tar.Reader, byEntry map[string][]*layerJob, start func(*layerJob, layerInput), later *[]*layerJob) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %v: %w", err, errdefs.ErrInvalid)
		}
		name := path.Clean(hdr.Name)
		js := byEntry[name]
		if hdr.Typeflag != tar.TypeReg || len(js) == 0 {
			continue
		}
		delete(byEntry, name)
		pr, pw := io.Pipe()
		start(js[0], layerInput{r: bufio.NewReaderSize(pr, 64<<10), size: hdr.Size, pipe: pr,
			compressed: mediaTypeCompressed(js[0].mediaType), sniff: js[0].mediaType == ""})
		*later = append(*later, js[1:]...)
		_, err = io.Copy(pw, &ctxReader{ctx: ctx, r: tr})
		pw.CloseWithError(err)
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
	}
}

// unpackLater unpacks the layers the stream held once for several jobs
// (or linked to, as docker save links a layer two images share), each from
// the tar of a job with the same diff ID, unpacked or already present.
func (s *layerStreams) unpackLater(later, jobs []*layerJob) error {
	for _, j := range later {
		var from *layerJob
		for _, o := range jobs {
			if o.diffID == j.diffID && o != j && !contains(later, o) {
				from = o
				break
			}
		}
		if from == nil {
			return fmt.Errorf("the archive has no layer %s: %w", j.entry, errdefs.ErrInvalid)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer close(j.done)
			select {
			case <-from.done:
			case <-s.ctx.Done():
				j.err = s.ctx.Err()
				return
			}
			if from.err != nil {
				j.err = from.err
				return
			}
			j.err = s.e.unpackFromStore(s.ctx, j, from, s.progress)
			if j.err != nil {
				s.cancel()
			}
		}()
	}
	return nil
}

// unpackFromStore unpacks j from the tar of from, a job with the same diff
// ID already in the store.
func (e *Engine) unpackFromStore(ctx context.Context, j, from *layerJob, progress ProgressFunc) error {
	r, err := e.OpenLayer(ctx, from.chainID, from.diffID)
	if err != nil {
		return err
	}
	defer r.Close()
	// The bytes are the uncompressed tar, not the blob the archive named.
	j.mediaType, j.blob = "", ""
	return e.unpackLayer(ctx, j, layerInput{r: r, size: from.result.Layer.DiffSize}, progress)
}

func contains(js []*layerJob, j *layerJob) bool {
	for _, o := range js {
		if o == j {
			return true
		}
	}
	return false
}

// memLayer is a layer the head of the stream holds in memory.
func memLayer(data []byte, mediaType string) layerInput {
	compressed := mediaTypeCompressed(mediaType)
	if mediaType == "" {
		compressed = image.DetectCompression(data) != image.Uncompressed
	}
	return layerInput{r: bytes.NewReader(data), size: int64(len(data)), compressed: compressed,
		reread: func() (io.Reader, error) { return bytes.NewReader(data), nil }}
}

func mediaTypeCompressed(mediaType string) bool {
	c, err := image.LayerCompression(mediaType)
	return err == nil && c != image.Uncompressed
}
