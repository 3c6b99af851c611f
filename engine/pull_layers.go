package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/retry"
	"github.com/berth-dev/berth/store"
)

// pullWorkers bounds parallel layer downloads. Each download is streamed
// straight through hashing, decompression and extraction, so this is also
// how many layers unpack at once.
const pullWorkers = 8

// pullJob is one layer of the image being pulled.
type pullJob struct {
	desc     ocispec.Descriptor
	id       string // short blob digest, as Docker shows pulled layers
	diffID   digest.Digest
	chainID  digest.Digest
	parentID digest.Digest
	parent   *pullJob
	same     *pullJob // an earlier layer of the image with the same blob
	skip     bool
	budget   *store.Budget // the pull's, shared by its layers
	size     int64
	done     chan struct{}
	err      error
}

// pullLayers runs the layer jobs, lowest first through a bounded pool, so
// that a layer waiting for its parent (only for hardlinks into it) waits
// for one already running. The first failure cancels the rest.
func (e *Engine) pullLayers(ctx context.Context, repo *client.Repository, jobs []*pullJob, quiet bool, send ProgressFunc) error {
	queued := 0
	for _, j := range jobs {
		switch {
		case j.skip:
			close(j.done)
			if !quiet {
				send.send(Progress{ID: j.id, Status: "Already exists"})
			}
		default:
			send.send(Progress{ID: j.id, Status: "Pulling fs layer"})
		}
	}
	for _, j := range jobs {
		if !j.skip {
			queued++
			if queued > pullWorkers {
				send.send(Progress{ID: j.id, Status: "Waiting"})
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pullWorkers)
	for _, j := range jobs {
		if j.skip {
			continue
		}
		if gctx.Err() != nil {
			close(j.done) // never started: a layer waiting on it gives up
			continue
		}
		g.Go(func() error {
			defer close(j.done)
			j.err = e.pullLayer(gctx, repo, j, send)
			return j.err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// pullLayer makes one layer present: skipped if another process finished
// it meanwhile, else fetched and unpacked, fetched again when its bytes do
// not match their digest.
func (e *Engine) pullLayer(ctx context.Context, repo *client.Repository, j *pullJob, send ProgressFunc) error {
	unlock, err := e.store.LockLayer(ctx, j.chainID)
	if err != nil {
		return err
	}
	defer unlock()
	if e.store.HasLayer(j.chainID) && (e.store.HasBlob(j.desc.Digest) || e.hasLayerTar(ctx, j.chainID, j.diffID)) {
		if info, err := e.store.Layer(j.chainID); err == nil {
			j.size = info.Size
		}
		send.send(Progress{ID: j.id, Status: "Already exists"})
		return e.recordLayerBlobs(ctx, repo, j)
	}
	if j.same != nil {
		// The blob is the one an earlier layer fetches: wait for it rather
		// than for its ingest lock, which that layer may hold while it
		// waits for this one's parent.
		select {
		case <-j.same.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The transfer retries and resumes itself (see client.OpenBlob); a
	// layer is fetched again only for what a transfer cannot fix: bytes
	// that do not match their digest, or a blob another process stored
	// meanwhile. A transfer that gave up is not tried again on top.
	// A local write error (a full disk) is neither: fetching again would
	// only fill the disk again.
	again := func(err error) bool {
		return !retry.LocalWrite(err) && (errors.Is(err, errdefs.ErrDigestMismatch) || e.store.HasBlob(j.desc.Digest))
	}
	ctx = retrying(ctx, j.id, send)
	err = retry.DoIf(ctx, repo.RetryPolicy(), again, func(int) error {
		return e.fetchLayer(ctx, repo, j, send)
	})
	return e.store.CauseFirst(err)
}

// retrying is ctx under which a retry, of the layer or of one of its
// requests, says so on the layer's line as Docker does.
func retrying(ctx context.Context, id string, send ProgressFunc) context.Context {
	return retry.WithNotify(ctx, func(wait time.Duration, _ error) {
		n := int(math.Ceil(wait.Seconds()))
		send.send(Progress{ID: id, Status: fmt.Sprintf("Retrying in %d second%s", n, plural(n))})
	})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// fetchLayer is one attempt: replay what the ingest holds, download the
// rest, and unpack the whole stream as it arrives.
func (e *Engine) fetchLayer(ctx context.Context, repo *client.Repository, j *pullJob, send ProgressFunc) error {
	bw, err := e.store.NewBlobWriter(ctx, j.desc.Digest, j.desc.Size)
	if errors.Is(err, errdefs.ErrAlreadyExists) {
		return e.unpackStored(ctx, repo, j, send)
	}
	if err != nil {
		return err
	}
	offset := bw.Offset()
	var partial io.ReadCloser = io.NopCloser(eofReader{})
	if offset > 0 {
		if partial, err = bw.Partial(); err != nil {
			bw.Close()
			return err
		}
	}
	defer partial.Close()
	body, err := repo.OpenBlob(ctx, j.desc, offset)
	if err != nil {
		bw.Close()
		return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	defer body.Close()
	src := &layerSource{partial: partial, body: body, job: j, send: send}
	res, err := e.store.Unpack(ctx, src, e.unpackSpec(j, bw))
	if err != nil {
		return e.layerFailure(ctx, j, src, err)
	}
	j.size = res.Layer.Size
	if err := e.recordLayerBlobs(ctx, repo, j); err != nil {
		return err
	}
	send.send(Progress{ID: j.id, Status: "Download complete"})
	send.send(Progress{ID: j.id, Status: "Extracting", Current: j.desc.Size, Total: j.desc.Size})
	send.send(Progress{ID: j.id, Status: "Pull complete"})
	return nil
}

func (e *Engine) unpackSpec(j *pullJob, bw *store.BlobWriter) store.Unpack {
	u := store.Unpack{
		MediaType:  j.desc.MediaType,
		Blob:       j.desc.Digest,
		Size:       j.desc.Size,
		DiffID:     j.diffID,
		Parent:     j.parentID,
		BlobWriter: bw,
		Budget:     j.budget,
	}
	if j.parent != nil {
		u.ParentReady = parentReady(j.parent.done, &j.parent.err)
	}
	return u
}

// unpackStored unpacks a layer whose blob is already in the store.
func (e *Engine) unpackStored(ctx context.Context, repo *client.Repository, j *pullJob, send ProgressFunc) error {
	f, err := e.store.OpenBlob(j.desc.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	send.send(Progress{ID: j.id, Status: "Extracting", Current: 0, Total: j.desc.Size})
	res, err := e.store.Unpack(ctx, f, e.unpackSpec(j, nil))
	if err != nil {
		return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	j.size = res.Layer.Size
	if err := e.recordLayerBlobs(ctx, repo, j); err != nil {
		return err
	}
	send.send(Progress{ID: j.id, Status: "Pull complete"})
	return nil
}

// layerFailure tells a broken transfer (kept for resuming) from bytes that
// do not hash to the layer's digest (thrown away, fetched again) from a
// layer that is itself bad (the blob matches its digest but does not
// unpack), so the error says which it was.
func (e *Engine) layerFailure(ctx context.Context, j *pullJob, src *layerSource, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case src.netErr != nil:
		return fmt.Errorf("layer %s: %w", j.desc.Digest, src.netErr)
	case errors.Is(err, errdefs.ErrDigestMismatch), retry.LocalWrite(err), store.IsLimit(err):
		// A write that failed here (no space) also cut the ingest short:
		// hashing it would call the download damaged. A layer refused for
		// its size says so from its tar's headers: no need to fetch the rest.
		return err
	}
	// Decompressing or extracting failed before the end. Everything read so
	// far is in the ingest: hash it with the rest of the download to learn
	// whether the blob is what the manifest says (then the layer itself is
	// bad) or was damaged on the way (then it is fetched again).
	w, werr := e.store.NewBlobWriter(ctx, j.desc.Digest, j.desc.Size)
	if werr != nil {
		return err
	}
	defer w.Discard() // its bytes cannot be trusted to resume from
	if _, derr := io.Copy(w, src); derr != nil {
		if src.netErr != nil {
			return fmt.Errorf("layer %s: %w", j.desc.Digest, src.netErr)
		}
		if errors.Is(derr, errdefs.ErrDigestMismatch) {
			return derr
		}
		return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	if got := w.Digest(); got != j.desc.Digest || w.Offset() != j.desc.Size {
		return fmt.Errorf("layer blob hashed to %s, want %s (%v): %w", got, j.desc.Digest, err, errdefs.ErrDigestMismatch)
	}
	return err
}

// recordLayerBlobs notes that the blob holds the layer, in the store and on
// the registry it came from (for mounts and skipped uploads when pushing).
func (e *Engine) recordLayerBlobs(ctx context.Context, repo *client.Repository, j *pullJob) error {
	// No syncfs: the note reaches no content from a root; the image's
	// Update makes the layers durable, once for the pull.
	return e.store.Record(ctx, func(tx *store.Tx) error { return e.addLayerBlobs(ctx, tx, repo, j) })
}

func (e *Engine) addLayerBlobs(ctx context.Context, tx *store.Tx, repo *client.Repository, j *pullJob) error {
	for _, reg := range []string{"", repo.Name()} {
		if reg == "" && !e.store.HasBlob(j.desc.Digest) {
			continue
		}
		if err := tx.AddLayerBlob(ctx, store.LayerBlob{DiffID: j.diffID, Blob: j.desc.Digest, MediaType: j.desc.MediaType, Size: j.desc.Size, Registry: reg}); err != nil {
			return err
		}
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// layerSource is the stream one attempt unpacks: the bytes an earlier
// attempt left in the ingest, then the network from there. It reports
// download progress and remembers a network failure.
type layerSource struct {
	partial, body io.Reader
	inBody        bool
	n, reported   int64
	netErr        error
	eof           bool
	job           *pullJob
	send          ProgressFunc
}

func (s *layerSource) Read(p []byte) (int, error) {
	if s.eof {
		return 0, io.EOF
	}
	var n int
	var err error
	if !s.inBody {
		n, err = s.partial.Read(p)
		if err == io.EOF {
			s.inBody, err = true, nil
			if n == 0 {
				n, err = s.body.Read(p)
			}
		}
	} else {
		n, err = s.body.Read(p)
	}
	if err != nil && err != io.EOF && s.inBody {
		s.netErr = err
	}
	s.n += int64(n)
	if s.n-s.reported >= 512<<10 || (n > 0 && s.reported == 0) {
		s.reported = s.n
		s.send.send(Progress{ID: s.job.id, Status: "Downloading", Current: s.n, Total: s.job.desc.Size})
	}
	if err == io.EOF {
		s.eof = true
		s.send.send(Progress{ID: s.job.id, Status: "Downloading", Current: s.n, Total: s.job.desc.Size})
		s.send.send(Progress{ID: s.job.id, Status: "Verifying Checksum"})
	}
	return n, err
}
