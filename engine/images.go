package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// maxConfigSize bounds an image config read into memory.
const maxConfigSize = 32 << 20

// Config reads and parses an image's config.
func (e *Engine) Config(id digest.Digest) (*image.Config, error) {
	raw, err := e.store.ReadBlob(id, maxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", image.ShortID(id), err)
	}
	return image.ParseConfig(raw)
}

// ImageSummary is one image as `image ls` needs it.
type ImageSummary struct {
	ID          digest.Digest
	RepoTags    []string // familiar: "welcome:latest"
	RepoDigests []string // familiar: "welcome@sha256:..."
	Created     time.Time
	Size        int64
	SharedSize  int64 // bytes of layers other images share
	Containers  int
	Labels      map[string]string
	// Intermediate images (untagged parents of other images) are hidden
	// from `image ls` without -a. berth makes none yet.
	Intermediate bool
}

// Dangling reports an image with neither tag nor digest reference.
func (s ImageSummary) Dangling() bool { return len(s.RepoTags) == 0 && len(s.RepoDigests) == 0 }

// Images lists every image, newest first.
func (e *Engine) Images(ctx context.Context) ([]ImageSummary, error) {
	e.syncContainersOrWarn(ctx)
	var imgs []store.Image
	var tags []store.Tag
	var rds []store.RepoDigest
	var ctrs []store.ContainerRef
	err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if imgs, err = tx.Images(ctx); err != nil {
			return err
		}
		if tags, err = tx.Tags(ctx, ""); err != nil {
			return err
		}
		if rds, err = tx.RepoDigests(ctx, ""); err != nil {
			return err
		}
		ctrs, err = tx.Containers(ctx, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	layerUsers := map[digest.Digest]int{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			layerUsers[l.ChainID]++
		}
	}
	out := make([]ImageSummary, 0, len(imgs))
	for _, img := range imgs {
		sum := ImageSummary{ID: img.ID, Created: img.Created, Size: img.Size, RepoTags: []string{}, RepoDigests: []string{}}
		for _, t := range tags {
			if t.ImageID == img.ID {
				sum.RepoTags = append(sum.RepoTags, e.Familiar(t.Ref))
			}
		}
		for _, rd := range rds {
			if rd.ImageID == img.ID {
				sum.RepoDigests = append(sum.RepoDigests, e.Familiar(rd.Repo+"@"+rd.Digest.String()))
			}
		}
		for _, c := range ctrs {
			if c.ImageID == img.ID {
				sum.Containers++
			}
		}
		for _, l := range img.Layers {
			if layerUsers[l.ChainID] > 1 {
				sum.SharedSize += l.Size
			}
		}
		if cfg, err := e.Config(img.ID); err == nil && cfg.Config != nil {
			sum.Labels = cfg.Config.Labels
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// ImageInspect is `image inspect`'s JSON, shaped as Docker's.
type ImageInspect struct {
	ID              string `json:"Id"`
	RepoTags        []string
	RepoDigests     []string
	Parent          string
	Comment         string
	Created         string
	Container       string
	ContainerConfig image.ContainerConfig
	DockerVersion   string
	Author          string
	Config          *image.ContainerConfig
	Architecture    string
	Variant         string `json:",omitempty"`
	Os              string
	OsVersion       string `json:",omitempty"`
	Size            int64
	VirtualSize     int64
	GraphDriver     GraphDriver
	RootFS          RootFS
	Metadata        ImageMetadata
}

// GraphDriver tells where the image's layers are unpacked.
type GraphDriver struct {
	Data map[string]string
	Name string
}

// RootFS lists the image's layers by diff ID.
type RootFS struct {
	Type   string
	Layers []string `json:",omitempty"`
}

// ImageMetadata holds what berth knows about an image beyond its config.
type ImageMetadata struct {
	LastTagTime time.Time `json:",omitempty"`
}

// InspectImage describes the image a name refers to.
func (e *Engine) InspectImage(ctx context.Context, name string) (ImageInspect, error) {
	var out ImageInspect
	img, names, err := e.lookup(ctx, name)
	if err != nil {
		return out, err
	}
	tags, rds := names.tags, names.digests
	cfg, err := e.Config(img.ID)
	if err != nil {
		return out, err
	}
	out = ImageInspect{
		ID:            img.ID.String(),
		RepoTags:      []string{},
		RepoDigests:   []string{},
		Parent:        cfg.Parent,
		Comment:       cfg.Comment,
		Created:       created(cfg).Format(time.RFC3339Nano),
		Container:     cfg.Container,
		DockerVersion: cfg.DockerVersion,
		Author:        cfg.Author,
		Config:        cfg.Config,
		Architecture:  cfg.Architecture,
		Variant:       cfg.Variant,
		Os:            cfg.OS,
		OsVersion:     cfg.OSVersion,
		Size:          img.Size,
		VirtualSize:   img.Size,
		GraphDriver:   GraphDriver{Name: "overlay", Data: map[string]string{}},
		RootFS:        RootFS{Type: "layers"},
		Metadata:      ImageMetadata{LastTagTime: img.LastTagTime},
	}
	if cfg.ContainerConfig != nil {
		out.ContainerConfig = *cfg.ContainerConfig
	}
	for _, t := range tags {
		out.RepoTags = append(out.RepoTags, e.Familiar(t.Ref))
	}
	for _, rd := range rds {
		out.RepoDigests = append(out.RepoDigests, e.Familiar(rd.Repo+"@"+rd.Digest.String()))
	}
	var lower []string
	for _, l := range img.Layers {
		out.RootFS.Layers = append(out.RootFS.Layers, l.DiffID.String())
		lower = append([]string{e.store.LayerDir(l.ChainID)}, lower...)
	}
	if len(lower) > 0 {
		out.GraphDriver.Data["LowerDir"] = strings.Join(lower, ":")
	}
	return out, nil
}

func created(cfg *image.Config) time.Time {
	if cfg.Created == nil {
		return time.Time{}
	}
	return cfg.Created.UTC()
}

// imageNames are the tags and repo digests that name an image.
type imageNames struct {
	tags    []store.Tag
	digests []store.RepoDigest
}

// lookup finds the image a name refers to, with its names, in one snapshot.
func (e *Engine) lookup(ctx context.Context, name string) (store.Image, imageNames, error) {
	var img store.Image
	var names imageNames
	err := e.store.View(ctx, func(tx *store.Tx) error {
		r, err := e.resolve(ctx, tx, name)
		if err != nil {
			return err
		}
		if img, err = tx.Image(ctx, r.ID); err != nil {
			return err
		}
		if names.tags, err = tx.Tags(ctx, r.ID); err != nil {
			return err
		}
		names.digests, err = tx.RepoDigests(ctx, r.ID)
		return err
	})
	return img, names, err
}

// HistoryItem is one row of `image history`, newest first.
type HistoryItem struct {
	ID        string // the image ID on the top row, "<missing>" below
	Created   time.Time
	CreatedBy string
	Tags      []string
	Size      int64
	Comment   string
}

// History lists the steps that built an image, newest first, with each
// step's layer size, as Docker does.
func (e *Engine) History(ctx context.Context, name string) ([]HistoryItem, error) {
	img, names, err := e.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	tags := names.tags
	cfg, err := e.Config(img.ID)
	if err != nil {
		return nil, err
	}
	var items []HistoryItem
	for i, layer := range cfg.LayerHistory() {
		h := cfg.History[i]
		item := HistoryItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			item.Created = h.Created.UTC()
		}
		if layer >= 0 && layer < len(img.Layers) {
			item.Size = img.Layers[layer].Size
		}
		items = append([]HistoryItem{item}, items...)
	}
	if len(items) > 0 {
		items[0].ID = img.ID.String()
		for _, t := range tags {
			items[0].Tags = append(items[0].Tags, e.Familiar(t.Ref))
		}
	}
	return items, nil
}

// Tag gives the image source refers to the name target, as `docker tag`.
func (e *Engine) Tag(ctx context.Context, source, target string) error {
	ref, err := e.ParseReference(target)
	if err != nil {
		return err
	}
	if ref.Digest != "" {
		return fmt.Errorf("refusing to create a tag with a digest reference: %s", target)
	}
	ref = ref.WithDefaultTag()
	return e.store.Update(ctx, func(tx *store.Tx) error {
		r, err := e.resolve(ctx, tx, source)
		if err != nil {
			return err
		}
		_, err = tx.SetTag(ctx, store.Tag{Ref: ref.String(), Repo: ref.Name(), Tag: ref.Tag, ImageID: r.ID})
		return err
	})
}
