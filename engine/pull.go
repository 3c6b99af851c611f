package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/store"
)

// PullOptions configure Pull.
type PullOptions struct {
	// Registry is the client (credentials, insecure registries); nil is an
	// anonymous client with the defaults.
	Registry *client.Client
	// Platform picks the image of a multi-platform index; nil means this
	// machine's. When set, a single-platform image must match it.
	Platform *ocispec.Platform
	// Progress hears Docker's pull messages, per layer and for the whole.
	Progress ProgressFunc
}

// PullResult is what Pull stored.
type PullResult struct {
	Ref    image.Reference // as pulled: with the default tag when none was given
	ID     digest.Digest
	Digest digest.Digest // what the reference resolved to: the index of a multi-platform image
	// Updated is false when the name already pointed at this image
	// (Docker's "Image is up to date").
	Updated bool
}

// pullWorkers bounds parallel layer downloads. Each download is streamed
// straight through hashing, decompression and extraction, so this is also
// how many layers unpack at once.
const pullWorkers = 8

// maxLayerAttempts bounds whole-layer retries (after a transfer's own
// resumes are spent, or a digest mismatch).
const maxLayerAttempts = 3

// layerRetryDelay is the wait before retrying a layer, doubled each time.
var layerRetryDelay = time.Second

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
	size     int64
	done     chan struct{}
	err      error
}

// Pull fetches an image from its registry into the store, as `docker pull`:
// every layer downloads at once (bounded), each streamed through hashing,
// decompression and extraction into its own directory, visible only once
// its digest and diff ID match. Layers already present are not fetched;
// interrupted downloads resume where they stopped, also across runs.
// When Pull returns, the image is complete and recorded, or nothing new is
// recorded at all.
func (e *Engine) Pull(ctx context.Context, name string, o PullOptions) (PullResult, error) {
	ref, err := e.ParseReference(name)
	if err != nil {
		return PullResult{}, err
	}
	ref = ref.WithDefaultTag()
	res := PullResult{Ref: ref}
	c := o.Registry
	if c == nil {
		c = client.New(client.Options{})
	}
	send := o.Progress
	repo := c.Repository(ref.Hub, ref.Path)
	tagOrDigest := ref.Tag
	if ref.Digest != "" {
		tagOrDigest = ref.Digest.String()
	}

	top, err := repo.Manifest(ctx, tagOrDigest)
	if err != nil {
		return res, e.pullError(ref, err)
	}
	send.send(Progress{ID: tagOrDigest, Status: "Pulling from " + ref.Path})
	res.Digest = top.Digest
	man, manDesc, indexes, err := selectImage(ctx, repo, top, o.Platform)
	if err != nil {
		return res, err
	}
	if !image.IsConfig(man.Config.MediaType) {
		return res, fmt.Errorf("%s is not a container image (its config is %q): %w", ref.FamiliarString(e.hub), man.Config.MediaType, errdefs.ErrUnsupported)
	}
	cfgRaw, err := repo.FetchBlob(ctx, man.Config, maxConfigSize)
	if err != nil {
		return res, fmt.Errorf("fetching the config of %s: %w", ref.FamiliarString(e.hub), err)
	}
	cfg, err := image.ParseConfig(cfgRaw)
	if err != nil {
		return res, err
	}
	if o.Platform != nil && len(indexes) == 0 {
		have := ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		if !image.MatchPlatform(*o.Platform, have) {
			return res, fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s: %w",
				ref.FamiliarString(e.hub), image.FormatPlatform(*o.Platform), image.FormatPlatform(have), errdefs.ErrNotFound)
		}
	}
	if len(man.Layers) != len(cfg.RootFS.DiffIDs) {
		return res, fmt.Errorf("manifest %s has %d layers, its config %d: %w", manDesc.Digest, len(man.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrInvalid)
	}
	res.ID = man.Config.Digest

	jobs := make([]*pullJob, len(man.Layers))
	chains := image.ChainIDs(cfg.RootFS.DiffIDs)
	blobs := []digest.Digest{man.Config.Digest, manDesc.Digest}
	for _, ix := range indexes {
		blobs = append(blobs, ix.Digest)
	}
	for i, l := range man.Layers {
		if _, err := image.LayerCompression(l.MediaType); err != nil {
			return res, err
		}
		j := &pullJob{desc: l, id: image.ShortID(l.Digest), diffID: cfg.RootFS.DiffIDs[i], chainID: chains[i], done: make(chan struct{})}
		if i > 0 {
			j.parent, j.parentID = jobs[i-1], chains[i-1]
		}
		for _, earlier := range jobs[:i] {
			if earlier.desc.Digest == l.Digest && j.same == nil {
				j.same = earlier
			}
		}
		jobs[i] = j
		blobs = append(blobs, l.Digest)
	}

	lease, err := e.store.NewLease(ctx)
	if err != nil {
		return res, err
	}
	defer lease.Release(ctx)
	_, haveLayer, err := lease.Acquire(ctx, blobs, chains)
	if err != nil {
		return res, err
	}
	known := false
	_ = e.store.View(ctx, func(tx *store.Tx) error {
		_, err := tx.Image(ctx, res.ID)
		known = err == nil
		return nil
	})
	allPresent := true
	for _, j := range jobs {
		if haveLayer[j.chainID] && (e.store.HasBlob(j.desc.Digest) || e.hasLocalBlob(ctx, j.diffID)) {
			j.skip = true
			if info, err := e.store.Layer(j.chainID); err == nil {
				j.size = info.Size
			}
		} else {
			allPresent = false
		}
	}
	// Docker says nothing about the layers of an image it already has.
	quiet := known && allPresent
	if err := e.pullLayers(ctx, repo, jobs, quiet, send); err != nil {
		return res, err
	}

	if _, err := e.store.WriteBlob(ctx, cfgRaw); err != nil {
		return res, err
	}
	keep := append([]client.Manifest{manDesc}, indexes...)
	for _, m := range keep {
		if _, err := e.store.WriteBlob(ctx, m.Raw); err != nil {
			return res, err
		}
	}
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		rec := store.Image{ID: res.ID, Created: created(cfg), Platform: platformOf(cfg), Manifest: manDesc.Digest, ManifestMediaType: manDesc.MediaType}
		for _, j := range jobs {
			rec.Layers = append(rec.Layers, store.ImageLayer{DiffID: j.diffID, ChainID: j.chainID, Size: j.size})
			rec.Size += j.size
			// A run killed between committing a layer and noting its blob
			// left the note out; every layer needs one.
			for _, reg := range []string{"", repo.Name()} {
				if reg == "" && !e.store.HasBlob(j.desc.Digest) {
					continue
				}
				if err := tx.AddLayerBlob(ctx, store.LayerBlob{DiffID: j.diffID, Blob: j.desc.Digest, MediaType: j.desc.MediaType, Size: j.desc.Size, Registry: reg}); err != nil {
					return err
				}
			}
		}
		for _, m := range keep {
			rec.Blobs = append(rec.Blobs, store.ImageBlob{Digest: m.Digest, MediaType: m.MediaType})
		}
		if err := tx.PutImage(ctx, rec); err != nil {
			return err
		}
		if ref.Tag != "" && ref.Digest == "" {
			old, err := tx.SetTag(ctx, store.Tag{Ref: ref.String(), Repo: ref.Name(), Tag: ref.Tag, ImageID: res.ID})
			if err != nil {
				return err
			}
			res.Updated = old != res.ID
		} else {
			rds, err := tx.RepoDigests(ctx, res.ID)
			if err != nil {
				return err
			}
			res.Updated = true
			for _, rd := range rds {
				if rd.Repo == ref.Name() && rd.Digest == res.Digest {
					res.Updated = false
				}
			}
		}
		return tx.AddRepoDigest(ctx, store.RepoDigest{Repo: ref.Name(), Digest: res.Digest, ImageID: res.ID})
	})
	if err != nil {
		return res, err
	}
	send.send(Progress{Status: "Digest: " + res.Digest.String()})
	if res.Updated {
		send.send(Progress{Status: "Status: Downloaded newer image for " + ref.FamiliarString(e.hub)})
	} else {
		send.send(Progress{Status: "Status: Image is up to date for " + ref.FamiliarString(e.hub)})
	}
	return res, nil
}

// pullError words a registry's refusal as Docker does.
func (e *Engine) pullError(ref image.Reference, err error) error {
	switch {
	case errors.Is(err, errdefs.ErrUnauthorized), errors.Is(err, errdefs.ErrDenied):
		return errdefs.Newf(errdefs.ErrDenied, "pull access denied for %s, repository does not exist or may require 'berth login': %w", ref.FamiliarName(e.hub), err)
	case errors.Is(err, errdefs.ErrNotFound):
		return errdefs.Newf(errdefs.ErrNotFound, "manifest for %s not found: %w", ref.FamiliarString(e.hub), err)
	}
	return err
}

// selectImage follows indexes to the image manifest for the platform. It
// returns the parsed manifest, its raw form and the indexes on the way.
func selectImage(ctx context.Context, repo *client.Repository, top client.Manifest, platform *ocispec.Platform) (*ocispec.Manifest, client.Manifest, []client.Manifest, error) {
	want := image.DefaultPlatform()
	if platform != nil {
		want = *platform
	}
	var indexes []client.Manifest
	cur := top
	for depth := 0; ; depth++ {
		p, err := cur.Parse()
		if err != nil {
			return nil, cur, nil, fmt.Errorf("manifest %s: %w", cur.Digest, err)
		}
		cur.MediaType = p.MediaType
		if p.Manifest != nil {
			return p.Manifest, cur, indexes, nil
		}
		if depth >= 4 {
			return nil, cur, nil, fmt.Errorf("indexes nested too deep: %w", errdefs.ErrInvalid)
		}
		indexes = append(indexes, cur)
		child, err := image.SelectManifest(p.Index, want)
		if err != nil {
			return nil, cur, nil, err
		}
		next, err := repo.Manifest(ctx, child.Digest.String())
		if err != nil {
			return nil, cur, nil, err
		}
		if next.Size != child.Size {
			return nil, cur, nil, fmt.Errorf("manifest %s is %d bytes, its index says %d: %w", child.Digest, next.Size, child.Size, errdefs.ErrDigestMismatch)
		}
		if child.MediaType != "" {
			next.MediaType = child.MediaType
		}
		cur = next
	}
}

// pullLayers runs the layer jobs, lowest first through a bounded pool, so
// that a layer waiting for its parent (only for hardlinks into it) waits
// for one already running. The first failure cancels the rest.
func (e *Engine) pullLayers(ctx context.Context, repo *client.Repository, jobs []*pullJob, quiet bool, send ProgressFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
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
	queue := make(chan *pullJob)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range min(pullWorkers, max(queued, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				j.err = e.pullLayer(ctx, repo, j, send)
				if j.err != nil {
					once.Do(func() { firstErr = j.err })
					cancel()
				}
				close(j.done)
			}
		}()
	}
	for _, j := range jobs {
		if j.skip {
			continue
		}
		select {
		case queue <- j:
		case <-ctx.Done():
			close(j.done)
		}
	}
	close(queue)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// pullLayer makes one layer present: skipped if another process finished
// it meanwhile, else fetched and unpacked, retried as a whole when a
// transfer fails for good or its bytes do not match their digest.
func (e *Engine) pullLayer(ctx context.Context, repo *client.Repository, j *pullJob, send ProgressFunc) error {
	unlock, err := e.store.LockLayer(ctx, j.chainID)
	if err != nil {
		return err
	}
	defer unlock()
	if e.store.HasLayer(j.chainID) && (e.store.HasBlob(j.desc.Digest) || e.hasLocalBlob(ctx, j.diffID)) {
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
	delay := layerRetryDelay
	for attempt := 1; ; attempt++ {
		err := e.fetchLayer(ctx, repo, j, send)
		if err == nil {
			return nil
		}
		if attempt >= maxLayerAttempts || ctx.Err() != nil || !(client.IsTransient(err) || errors.Is(err, errdefs.ErrDigestMismatch)) {
			return err
		}
		send.send(Progress{ID: j.id, Status: fmt.Sprintf("Retrying in %d second%s", int(delay.Seconds()), plural(int(delay.Seconds())))})
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay *= 2
	}
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
	return store.Unpack{
		MediaType:  j.desc.MediaType,
		Blob:       j.desc.Digest,
		Size:       j.desc.Size,
		DiffID:     j.diffID,
		Parent:     j.parentID,
		BlobWriter: bw,
		ParentReady: func(ctx context.Context) error {
			if j.parent == nil {
				return nil
			}
			select {
			case <-j.parent.done:
				return j.parent.err
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
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
	case errors.Is(err, errdefs.ErrDigestMismatch):
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
	return e.store.Update(ctx, func(tx *store.Tx) error {
		for _, reg := range []string{"", repo.Name()} {
			if reg == "" && !e.store.HasBlob(j.desc.Digest) {
				continue
			}
			if err := tx.AddLayerBlob(ctx, store.LayerBlob{DiffID: j.diffID, Blob: j.desc.Digest, MediaType: j.desc.MediaType, Size: j.desc.Size, Registry: reg}); err != nil {
				return err
			}
		}
		return nil
	})
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
