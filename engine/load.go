package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// LoadResult tells what a load stored.
type LoadResult struct {
	Images []LoadedImage
	// Renamed are Docker's notes about tags moved off an older image.
	Renamed []string
}

// LoadedImage is one image of an archive.
type LoadedImage struct {
	ID   digest.Digest
	Tags []string // familiar names
}

// dockerManifest is an entry of a Docker archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// archiveImage is one image found in an archive, ready to store.
type archiveImage struct {
	configRaw []byte
	id        digest.Digest
	config    *image.Config
	tags      []string
	layers    []*layerJob
	manifest  *ocispec.Descriptor // for OCI layouts
	extra     []archiveBlob       // manifest (and index) blobs to keep
}

type archiveBlob struct {
	entry     string
	digest    digest.Digest
	mediaType string
}

// layerJob unpacks one distinct layer of an archive.
type layerJob struct {
	entry     string
	mediaType string // "" to tell from the bytes
	blob      digest.Digest
	diffID    digest.Digest
	parent    *layerJob
	chainID   digest.Digest
	parentID  digest.Digest
	skip      bool
	done      chan struct{}
	err       error
	result    store.Unpacked
	// blobMediaType is the media type of the layer's blob as the archive
	// holds it, recorded with the image.
	blobMediaType string
}

// Load stores the images of a Docker archive (`docker save`) or an OCI
// layout archive, as `docker load`. Layers are read straight from the
// archive file and unpacked in parallel, each into its own directory.
func (e *Engine) Load(ctx context.Context, r io.Reader, progress ProgressFunc) (LoadResult, error) {
	var res LoadResult
	f, cleanup, err := e.seekableArchive(ctx, r)
	if err != nil {
		return res, err
	}
	defer cleanup()
	idx, err := indexArchive(f)
	if err != nil {
		return res, err
	}
	imgs, err := archiveImages(idx)
	if err != nil {
		return res, err
	}
	jobs := distinctLayers(imgs)
	lease, err := e.store.NewLease(ctx)
	if err != nil {
		return res, err
	}
	defer lease.Release(ctx)
	if err := e.skipPresentLayers(ctx, lease, imgs, jobs, progress); err != nil {
		return res, err
	}
	if err := e.unpackJobs(ctx, idx, jobs, progress); err != nil {
		return res, err
	}
	if err := e.writeArchiveBlobs(ctx, idx, imgs); err != nil {
		return res, err
	}
	// One Update records every layer and image: its one syncfs makes all
	// the load wrote durable (see store/durable.go).
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		res = LoadResult{}
		for _, j := range jobs {
			if j.skip {
				continue
			}
			r := j.result
			if err := tx.AddLayerBlob(ctx, store.LayerBlob{DiffID: j.diffID, Blob: r.Blob, MediaType: j.blobMediaType, Size: r.BlobSize}); err != nil {
				return err
			}
		}
		for _, img := range imgs {
			if err := e.recordLoaded(ctx, tx, img, &res); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

// archiveImages lists the images of a Docker archive or an OCI layout.
func archiveImages(idx *tarIndex) ([]*archiveImage, error) {
	var imgs []*archiveImage
	var err error
	switch {
	case idx.has("manifest.json"):
		imgs, err = dockerArchiveImages(idx)
	case idx.has("index.json"):
		imgs, err = ociArchiveImages(idx)
	default:
		return nil, fmt.Errorf("open manifest.json: no such file or directory: the input is neither a Docker archive nor an OCI layout: %w", errdefs.ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("the archive holds no image: %w", errdefs.ErrInvalid)
	}
	return imgs, nil
}

// skipPresentLayers leases the images' configs and layers, so that no
// garbage collection takes them during the load, and marks the layers
// already present to be skipped.
func (e *Engine) skipPresentLayers(ctx context.Context, lease *store.Lease, imgs []*archiveImage, jobs []*layerJob, progress ProgressFunc) error {
	var chains []digest.Digest
	for _, j := range jobs {
		chains = append(chains, j.chainID)
	}
	var cfgs []digest.Digest
	for _, img := range imgs {
		cfgs = append(cfgs, img.id)
	}
	_, haveLayer, err := lease.Acquire(ctx, cfgs, chains)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if haveLayer[j.chainID] && e.hasLayerTar(ctx, j.chainID, j.diffID) {
			j.skip = true
			if info, err := e.store.Layer(j.chainID); err == nil {
				j.result.Layer = info
			}
			progress.send(Progress{ID: image.ShortID(j.diffID), Status: "Already exists"})
		}
	}
	return nil
}

// writeArchiveBlobs stores the images' configs and the manifests and
// indexes the archive keeps with them, checked against their digests.
func (e *Engine) writeArchiveBlobs(ctx context.Context, idx *tarIndex, imgs []*archiveImage) error {
	for _, img := range imgs {
		if _, err := e.store.WriteBlob(ctx, img.configRaw); err != nil {
			return err
		}
		for _, b := range img.extra {
			raw, err := idx.read(b.entry, image.MaxManifestSize)
			if err != nil {
				return err
			}
			if digest.FromBytes(raw) != b.digest {
				return fmt.Errorf("%s in the archive does not match its digest %s: %w", b.entry, b.digest, errdefs.ErrDigestMismatch)
			}
			if _, err := e.store.WriteBlob(ctx, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordLoaded records a loaded image and points its tags at it, noting
// in res the image and the tags taken from another image, as Docker
// words them.
func (e *Engine) recordLoaded(ctx context.Context, tx *store.Tx, img *archiveImage, res *LoadResult) error {
	rec := store.Image{ID: img.id, Created: created(img.config), Platform: platformOf(img.config)}
	for _, j := range img.layers {
		rec.Layers = append(rec.Layers, store.ImageLayer{DiffID: j.diffID, ChainID: j.chainID, Size: j.result.Layer.Size})
		rec.Size += j.result.Layer.Size
	}
	if img.manifest != nil {
		rec.Manifest, rec.ManifestMediaType = img.manifest.Digest, img.manifest.MediaType
	}
	for _, b := range img.extra {
		rec.Blobs = append(rec.Blobs, store.ImageBlob{Digest: b.digest, MediaType: b.mediaType})
	}
	if err := tx.PutImage(ctx, rec); err != nil {
		return err
	}
	loaded := LoadedImage{ID: img.id}
	for _, name := range img.tags {
		ref, err := e.ParseReference(name)
		if err != nil {
			return fmt.Errorf("the archive tags an image %q: %w", name, err)
		}
		if ref.Digest != "" {
			continue
		}
		ref = ref.WithDefaultTag()
		old, err := tx.SetTag(ctx, store.Tag{Ref: ref.String(), Repo: ref.Name(), Tag: ref.Tag, ImageID: img.id})
		if err != nil {
			return err
		}
		if old != "" && old != img.id {
			res.Renamed = append(res.Renamed, fmt.Sprintf("The image %s already exists, renaming the old one with ID %s to empty string", ref.FamiliarString(e.hub), old))
		}
		loaded.Tags = append(loaded.Tags, ref.FamiliarString(e.hub))
	}
	res.Images = append(res.Images, loaded)
	return nil
}

// unpackJobs unpacks the layers not already present, in parallel. Jobs are
// queued lowest first, so a layer waiting for its parent (only for
// hardlinks into it) waits for one that is already being unpacked.
func (e *Engine) unpackJobs(ctx context.Context, idx *tarIndex, jobs []*layerJob, progress ProgressFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *layerJob)
	workers := max(2, runtime.NumCPU())
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				j.err = e.unpackJob(ctx, idx, j, progress)
				if j.err != nil {
					cancel()
				}
				close(j.done)
			}
		}()
	}
	for _, j := range jobs {
		if j.skip {
			close(j.done)
			continue
		}
		select {
		case queue <- j:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil && !errors.Is(j.err, context.Canceled) {
			return j.err
		}
	}
	for _, j := range jobs {
		select {
		case <-j.done:
		default:
			return ctx.Err()
		}
		if j.err != nil {
			return j.err
		}
	}
	return ctx.Err()
}

func (e *Engine) unpackJob(ctx context.Context, idx *tarIndex, j *layerJob, progress ProgressFunc) error {
	sr, err := idx.open(j.entry)
	if err != nil {
		return err
	}
	short := image.ShortID(j.diffID)
	pr := &progressReader{r: sr, id: short, status: "Loading layer", total: sr.Size(), report: progress}
	spec := store.Unpack{
		MediaType: j.mediaType,
		Blob:      j.blob,
		Size:      sr.Size(),
		DiffID:    j.diffID,
		Parent:    j.parentID,
		// An uncompressed layer keeps no blob: its files and tar-split
		// record give the tar back, and a lossy layer's blob is read again.
		// A compressed one keeps its blob, as a pull does, so a push sends
		// it as it is.
		KeepBlob: archiveLayerCompressed(sr, j.mediaType),
		Reread:   func() (io.Reader, error) { return io.NewSectionReader(sr, 0, sr.Size()), nil },
	}
	if j.parent != nil {
		spec.ParentReady = parentReady(j.parent.done, &j.parent.err)
	}
	res, err := e.store.Unpack(ctx, pr, spec)
	if err != nil {
		return fmt.Errorf("loading layer %s: %w", j.entry, err)
	}
	j.result = res
	mt := j.mediaType
	if mt == "" {
		mt = LayerMediaType(res.Compression)
	}
	j.blobMediaType = mt
	progress.send(Progress{ID: short, Status: "Loading layer", Current: sr.Size(), Total: sr.Size()})
	return nil
}

// archiveLayerCompressed tells whether a layer in an archive is
// compressed, by its media type or else its first bytes.
func archiveLayerCompressed(sr *io.SectionReader, mediaType string) bool {
	if mediaType != "" {
		c, err := image.LayerCompression(mediaType)
		return err == nil && c != image.Uncompressed
	}
	head := make([]byte, 4)
	n, _ := sr.ReadAt(head, 0)
	return image.DetectCompression(head[:n]) != image.Uncompressed
}

// parentReady is store.Unpack.ParentReady for a job whose parent job closes
// done when it ends, leaving its outcome in *err.
func parentReady(done <-chan struct{}, err *error) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-done:
			return *err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// LayerMediaType is the OCI media type of a layer blob so compressed.
func LayerMediaType(c image.Compression) string {
	switch c {
	case image.Gzip:
		return ocispec.MediaTypeImageLayerGzip
	case image.Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayer
}

// hasLayerTar reports whether the store can give the layer's tar: from
// its files and tar-split record, or from a blob.
func (e *Engine) hasLayerTar(ctx context.Context, chainID, diffID digest.Digest) bool {
	if e.store.HasLayerTar(chainID) {
		return true
	}
	found := false
	_ = e.store.View(ctx, func(tx *store.Tx) error {
		lbs, err := tx.LayerBlobs(ctx, diffID)
		for _, lb := range lbs {
			if lb.Registry == "" && e.store.HasBlob(lb.Blob) {
				found = true
			}
		}
		return err
	})
	return found
}

// distinctLayers links each image's layers into jobs, one per chain ID,
// lowest first.
func distinctLayers(imgs []*archiveImage) []*layerJob {
	byChain := map[digest.Digest]*layerJob{}
	var jobs []*layerJob
	for _, img := range imgs {
		var parent *layerJob
		for i, j := range img.layers {
			j.parent = parent
			if parent != nil {
				j.parentID = parent.chainID
			}
			j.chainID = store.ChainID(j.parentID, j.diffID)
			if have, ok := byChain[j.chainID]; ok {
				img.layers[i] = have
				parent = have
				continue
			}
			j.done = make(chan struct{})
			byChain[j.chainID] = j
			jobs = append(jobs, j)
			parent = j
		}
	}
	return jobs
}

func dockerArchiveImages(idx *tarIndex) ([]*archiveImage, error) {
	raw, err := idx.read("manifest.json", 16<<20)
	if err != nil {
		return nil, err
	}
	var manifests []dockerManifest
	if err := json.Unmarshal(raw, &manifests); err != nil {
		return nil, fmt.Errorf("manifest.json: %v: %w", err, errdefs.ErrInvalid)
	}
	var imgs []*archiveImage
	for _, m := range manifests {
		img, err := readArchiveConfig(idx, m.Config)
		if err != nil {
			return nil, err
		}
		img.tags = m.RepoTags
		if len(m.Layers) != len(img.config.RootFS.DiffIDs) {
			return nil, fmt.Errorf("manifest.json lists %d layers for %s, its config %d: %w", len(m.Layers), m.Config, len(img.config.RootFS.DiffIDs), errdefs.ErrInvalid)
		}
		for i, l := range m.Layers {
			if !idx.has(l) {
				return nil, fmt.Errorf("the archive has no layer %s: %w", l, errdefs.ErrInvalid)
			}
			j := &layerJob{entry: l, diffID: img.config.RootFS.DiffIDs[i]}
			// Docker 25 and later write layers as OCI blobs: their name is their digest.
			if alg, hex, ok := strings.Cut(strings.TrimPrefix(path.Clean(l), "blobs/"), "/"); ok && strings.HasPrefix(path.Clean(l), "blobs/") {
				if d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex); d.Validate() == nil {
					j.blob = d
				}
			}
			img.layers = append(img.layers, j)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

func readArchiveConfig(idx *tarIndex, name string) (*archiveImage, error) {
	raw, err := idx.read(name, maxConfigSize)
	if err != nil {
		return nil, err
	}
	cfg, err := image.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &archiveImage{configRaw: raw, id: digest.FromBytes(raw), config: cfg}, nil
}

func blobEntry(d digest.Digest) string {
	return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded()
}

func ociArchiveImages(idx *tarIndex) ([]*archiveImage, error) {
	raw, err := idx.read("index.json", image.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	parsed, err := image.ParseManifest(ocispec.MediaTypeImageIndex, raw)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	if parsed.Index == nil {
		return nil, fmt.Errorf("index.json is not an index: %w", errdefs.ErrInvalid)
	}
	var imgs []*archiveImage
	for _, d := range parsed.Index.Manifests {
		img, err := ociImage(idx, d, nil, 0)
		if err != nil {
			return nil, err
		}
		name := d.Annotations["io.containerd.image.name"]
		if name == "" {
			name = d.Annotations[ocispec.AnnotationRefName]
		}
		if name != "" && strings.ContainsAny(name, "/:") {
			img.tags = append(img.tags, name)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// ociImage follows a descriptor to the image for this machine's platform.
func ociImage(idx *tarIndex, d ocispec.Descriptor, extra []archiveBlob, depth int) (*archiveImage, error) {
	if depth > 4 {
		return nil, fmt.Errorf("indexes nested too deep: %w", errdefs.ErrInvalid)
	}
	raw, err := idx.read(blobEntry(d.Digest), image.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(raw) != d.Digest {
		return nil, fmt.Errorf("%s does not match its digest: %w", blobEntry(d.Digest), errdefs.ErrDigestMismatch)
	}
	p, err := image.ParseManifest(d.MediaType, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", blobEntry(d.Digest), err)
	}
	extra = append(extra, archiveBlob{entry: blobEntry(d.Digest), digest: d.Digest, mediaType: p.MediaType})
	if p.Index != nil {
		child, err := image.SelectManifest(p.Index, image.DefaultPlatform())
		if err != nil {
			return nil, err
		}
		return ociImage(idx, child, extra, depth+1)
	}
	img, err := readArchiveConfig(idx, blobEntry(p.Manifest.Config.Digest))
	if err != nil {
		return nil, err
	}
	if img.id != p.Manifest.Config.Digest {
		return nil, fmt.Errorf("config %s does not match its digest: %w", p.Manifest.Config.Digest, errdefs.ErrDigestMismatch)
	}
	if len(p.Manifest.Layers) != len(img.config.RootFS.DiffIDs) {
		return nil, fmt.Errorf("manifest %s has %d layers, its config %d: %w", d.Digest, len(p.Manifest.Layers), len(img.config.RootFS.DiffIDs), errdefs.ErrInvalid)
	}
	for i, l := range p.Manifest.Layers {
		if _, err := image.LayerCompression(l.MediaType); err != nil {
			return nil, err
		}
		img.layers = append(img.layers, &layerJob{entry: blobEntry(l.Digest), mediaType: l.MediaType, blob: l.Digest, diffID: img.config.RootFS.DiffIDs[i]})
	}
	md := d
	md.MediaType = p.MediaType
	img.manifest = &md
	img.extra = extra
	return img, nil
}

func platformOf(cfg *image.Config) string {
	return image.FormatPlatform(ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant})
}
