package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/registry/client"
	"github.com/berth-dev/berth/retry"
	"github.com/berth-dev/berth/store"
)

// PushOptions configure Push.
type PushOptions struct {
	// Registry is the client (credentials, insecure registries); nil is an
	// anonymous client with the defaults.
	Registry *client.Client
	// AllTags pushes every local tag of the repository.
	AllTags bool
	// Progress hears Docker's push messages, per layer and for the whole.
	Progress ProgressFunc
}

// PushedTag is one tag Push stored on the registry.
type PushedTag struct {
	Tag    string
	Digest digest.Digest
	Size   int
}

// pushWorkers bounds parallel layer uploads, as Docker's default.
const pushWorkers = 5

type pushJob struct {
	layer store.ImageLayer
	id    string // short diff ID, as Docker shows pushed layers
	blobs []store.LayerBlob
	orig  *ocispec.Descriptor // the layer in the manifest the image came with
	out   ocispec.Descriptor  // the blob the registry now holds for it
}

// Push uploads a tagged image to its registry, as `docker push`: layers in
// parallel, each skipped when the registry has it (HEAD), mounted from
// another repository of the registry when berth knows one that has it, or
// uploaded. Layers kept uncompressed (loaded, imported) are gzipped on the
// way, and the compressed digest is remembered per registry repository so
// the next push reuses it. An image pushed unchanged to a registry keeps
// the manifest, and so the digest, it was pulled with.
func (e *Engine) Push(ctx context.Context, name string, o PushOptions) ([]PushedTag, error) {
	ref, err := e.ParseReference(name)
	if err != nil {
		return nil, err
	}
	if ref.Digest != "" {
		return nil, fmt.Errorf("cannot push a digest reference: %w", errdefs.ErrInvalid)
	}
	if !o.AllTags {
		ref = ref.WithDefaultTag()
	}
	var targets []store.Tag
	err = e.store.View(ctx, func(tx *store.Tx) error {
		tags, err := tx.Tags(ctx, "")
		if err != nil {
			return err
		}
		for _, t := range tags {
			if t.Repo == ref.Name() && (o.AllTags && ref.Tag == "" || t.Tag == ref.Tag) {
				targets = append(targets, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "An image does not exist locally with the tag: %s", ref.FamiliarName(e.hub))
	}
	c := o.Registry
	if c == nil {
		c = client.New(client.Options{})
	}
	repo := c.Repository(ref.Hub, ref.Path, "pull", "push")
	o.Progress.send(Progress{Status: "The push refers to repository [" + ref.Name() + "]"})
	var out []PushedTag
	for _, t := range targets {
		pt, err := e.pushImage(ctx, repo, t, o.Progress)
		if err != nil {
			return out, err
		}
		out = append(out, pt)
	}
	return out, nil
}

func (e *Engine) pushImage(ctx context.Context, repo *client.Repository, t store.Tag, send ProgressFunc) (PushedTag, error) {
	var img store.Image
	var jobs []*pushJob
	err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if img, err = tx.Image(ctx, t.ImageID); err != nil {
			return err
		}
		for i := len(img.Layers) - 1; i >= 0; i-- { // Docker lists the top layer first
			l := img.Layers[i]
			lbs, err := tx.LayerBlobs(ctx, l.DiffID)
			if err != nil {
				return err
			}
			jobs = append(jobs, &pushJob{layer: l, id: image.ShortID(l.DiffID), blobs: lbs})
		}
		return nil
	})
	if err != nil {
		return PushedTag{}, err
	}
	cfgRaw, err := e.store.ReadBlob(img.ID, maxConfigSize)
	if err != nil {
		return PushedTag{}, err
	}
	origRaw, orig := e.originalManifest(img)
	if orig != nil {
		for i, j := range jobs {
			d := orig.Layers[len(jobs)-1-i]
			j.orig = &d
		}
	}

	if err := e.pushLayers(ctx, repo, jobs, send); err != nil {
		return PushedTag{}, err
	}
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ID, Size: int64(len(cfgRaw))}
	err = retryPush(ctx, repo, "", send, func(ctx context.Context) error {
		_, err := repo.StatBlob(ctx, img.ID)
		if !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
		// A config over the one-request size is streamed, and resumed
		// from where the registry says it stopped: from that offset.
		return repo.PushBlob(ctx, cfgDesc, nil, func(off int64) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(cfgRaw[off:])), nil
		}, nil)
	})
	if err != nil {
		return PushedTag{}, err
	}

	raw, mediaType := origRaw, img.ManifestMediaType
	same := orig != nil
	for _, j := range jobs {
		if j.orig == nil || j.orig.Digest != j.out.Digest {
			same = false
		}
	}
	if !same {
		if raw, err = buildManifest(cfgDesc, jobs); err != nil {
			return PushedTag{}, err
		}
		mediaType = ocispec.MediaTypeImageManifest
	}
	d, err := repo.PutManifest(ctx, t.Tag, mediaType, raw)
	if err != nil {
		return PushedTag{}, err
	}
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		return tx.AddRepoDigest(ctx, store.RepoDigest{Repo: t.Repo, Digest: d, ImageID: img.ID})
	})
	if err != nil {
		return PushedTag{}, err
	}
	send.send(Progress{Status: fmt.Sprintf("%s: digest: %s size: %d", t.Tag, d, len(raw))})
	return PushedTag{Tag: t.Tag, Digest: d, Size: len(raw)}, nil
}

// originalManifest is the image manifest the image was pulled with, if it
// is still in the store and describes the image.
func (e *Engine) originalManifest(img store.Image) ([]byte, *ocispec.Manifest) {
	if img.Manifest == "" {
		return nil, nil
	}
	raw, err := e.store.ReadBlob(img.Manifest, image.MaxManifestSize)
	if err != nil {
		return nil, nil
	}
	p, err := image.ParseManifest(img.ManifestMediaType, raw)
	if err != nil || p.Manifest == nil || p.Manifest.Config.Digest != img.ID || len(p.Manifest.Layers) != len(img.Layers) {
		return nil, nil
	}
	return raw, p.Manifest
}

// buildManifest writes an OCI image manifest for the pushed blobs.
func buildManifest(cfg ocispec.Descriptor, jobs []*pushJob) ([]byte, error) {
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg}
	for i := len(jobs) - 1; i >= 0; i-- {
		d := jobs[i].out
		d.MediaType = ociLayerType(d.MediaType)
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
	}
	return json.Marshal(m)
}

func ociLayerType(mt string) string {
	c, err := image.LayerCompression(mt)
	if err != nil {
		return mt
	}
	return LayerMediaType(c)
}

// pushLayers uploads the layers through a bounded pool. The first failure
// cancels the rest.
func (e *Engine) pushLayers(ctx context.Context, repo *client.Repository, jobs []*pushJob, send ProgressFunc) error {
	for _, j := range jobs {
		send.send(Progress{ID: j.id, Status: "Preparing"})
	}
	for i, j := range jobs {
		if i >= pushWorkers {
			send.send(Progress{ID: j.id, Status: "Waiting"})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pushWorkers)
	for _, j := range jobs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return e.pushLayer(gctx, repo, j, send) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// pushLayer makes the registry hold the layer: already there, mounted, or
// uploaded, retried as a whole when a transfer fails for good.
func (e *Engine) pushLayer(ctx context.Context, repo *client.Repository, j *pushJob, send ProgressFunc) error {
	err := retryPush(ctx, repo, j.id, send, func(ctx context.Context) error { return e.pushLayerOnce(ctx, repo, j, send) })
	if err != nil {
		return err
	}
	// The registry accepted the blob: remember its digest even when
	// another layer's failure is cancelling the push, so that the next
	// push skips it.
	ctx = context.WithoutCancel(ctx)
	return e.store.Update(ctx, func(tx *store.Tx) error {
		return tx.AddLayerBlob(ctx, store.LayerBlob{DiffID: j.layer.DiffID, Blob: j.out.Digest, MediaType: j.out.MediaType, Size: j.out.Size, Registry: repo.Name()})
	})
}

// retryPush runs push again, with the client's retry policy, for what
// its transfers cannot fix themselves: bytes the registry found damaged
// (the local blob was verified, or is compressed anew, each time), or an
// upload out of step with the registry (a new one can go through). A
// transfer that failed for good was retried already and is not tried
// again on top. A layer's retries show on its line (id).
func retryPush(ctx context.Context, repo *client.Repository, id string, send ProgressFunc, push func(context.Context) error) error {
	if id != "" {
		ctx = retrying(ctx, id, send)
	}
	again := func(err error) bool { return errors.Is(err, errdefs.ErrDigestMismatch) || client.IsOutOfStep(err) }
	return retry.DoIf(ctx, repo.RetryPolicy(), again, func(int) error { return push(ctx) })
}

func (e *Engine) pushLayerOnce(ctx context.Context, repo *client.Repository, j *pushJob, send ProgressFunc) error {
	host, _, _ := strings.Cut(repo.Name(), "/")
	// Blobs the registry may hold already: the one the image came with,
	// those earlier pushes to this repository left, and the compressed one
	// the store keeps (an earlier push may have got it there without
	// living to remember it).
	var here []ocispec.Descriptor
	if j.orig != nil {
		here = append(here, *j.orig)
	}
	var mounts []store.LayerBlob
	for _, lb := range j.blobs {
		switch {
		case lb.Registry == repo.Name():
			here = append(here, ocispec.Descriptor{MediaType: lb.MediaType, Digest: lb.Blob, Size: lb.Size})
		case strings.HasPrefix(lb.Registry, host+"/"):
			mounts = append(mounts, lb)
		}
	}
	local := e.localCompressed(j)
	if local != nil {
		here = append(here, *local)
	}
	seen := map[digest.Digest]bool{}
	for _, d := range here {
		if seen[d.Digest] || len(seen) >= 3 {
			continue
		}
		seen[d.Digest] = true
		if _, err := repo.StatBlob(ctx, d.Digest); err == nil {
			j.out = d
			send.send(Progress{ID: j.id, Status: "Layer already exists"})
			return nil
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
	}
	var up *client.Upload
	for _, m := range mounts {
		from := strings.TrimPrefix(m.Registry, host+"/")
		mounted, u, err := repo.Mount(ctx, m.Blob, from)
		if err != nil {
			continue // the registry or the token refused; upload instead
		}
		if mounted {
			j.out = ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Blob, Size: m.Size}
			send.send(Progress{ID: j.id, Status: "Mounted from " + from})
			return nil
		}
		if up == nil {
			up = u
		} else {
			u.Cancel()
		}
		break
	}
	if local != nil {
		return e.uploadStored(ctx, repo, up, j, *local, send)
	}
	return e.uploadCompressed(ctx, repo, up, j, send)
}

// localCompressed picks a compressed blob of the layer in the store: the
// one of the original manifest first.
func (e *Engine) localCompressed(j *pushJob) *ocispec.Descriptor {
	if j.orig != nil && e.store.HasBlob(j.orig.Digest) {
		return j.orig
	}
	for _, lb := range j.blobs {
		c, err := image.LayerCompression(lb.MediaType)
		if lb.Registry == "" && err == nil && c != image.Uncompressed && e.store.HasBlob(lb.Blob) {
			return &ocispec.Descriptor{MediaType: lb.MediaType, Digest: lb.Blob, Size: lb.Size}
		}
	}
	return nil
}

// uploadStored sends a blob of the store as it is.
func (e *Engine) uploadStored(ctx context.Context, repo *client.Repository, up *client.Upload, j *pushJob, d ocispec.Descriptor, send ProgressFunc) error {
	send.send(Progress{ID: j.id, Status: "Pushing", Current: 0, Total: d.Size})
	err := repo.PushBlob(ctx, d, up, func(off int64) (io.ReadCloser, error) {
		f, err := e.store.OpenBlob(d.Digest)
		if err != nil {
			return nil, err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}, func(n int64) { send.send(Progress{ID: j.id, Status: "Pushing", Current: n, Total: d.Size}) })
	if err != nil {
		return err
	}
	j.out = d
	send.send(Progress{ID: j.id, Status: "Pushed"})
	return nil
}

// uploadCompressed gzips the layer's tar while uploading it in chunks and
// hashing it; the digest is known at the end, when the upload is closed.
func (e *Engine) uploadCompressed(ctx context.Context, repo *client.Repository, up *client.Upload, j *pushJob, send ProgressFunc) error {
	info, err := e.store.Layer(j.layer.ChainID)
	if err != nil {
		return err
	}
	tarStream, err := e.OpenLayer(ctx, j.layer.ChainID, j.layer.DiffID)
	if err != nil {
		return err
	}
	defer tarStream.Close()
	if up == nil {
		if up, err = repo.StartUpload(ctx); err != nil {
			return err
		}
	}
	h := digest.Canonical.Digester()
	counter := &countWriter{}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(up, h.Hash(), counter), gzip.DefaultCompression)
	if err != nil {
		up.Cancel()
		return err
	}
	pr := &progressReader{r: &ctxReader{ctx: ctx, r: tarStream}, id: j.id, status: "Pushing", total: info.DiffSize, report: send}
	send.send(Progress{ID: j.id, Status: "Pushing", Current: 0, Total: info.DiffSize})
	if _, err := io.Copy(zw, pr); err != nil {
		up.Cancel()
		return fmt.Errorf("layer %s: %w", j.layer.DiffID, err)
	}
	if err := zw.Close(); err != nil {
		up.Cancel()
		return err
	}
	d := h.Digest()
	if err := up.Commit(d); err != nil {
		return err
	}
	j.out = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: counter.n}
	send.send(Progress{ID: j.id, Status: "Pushed"})
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
