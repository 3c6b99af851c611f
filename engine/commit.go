package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// RuntimeStubs are the mount points the runtime makes in a container's
// root when the image lacks them: a build step's layer leaves them out, as
// diff and commit do.
func RuntimeStubs() []string { return slices.Clone(ctr.Stubs) }

// Change is one path a container changed (diff): 'A', 'C' or 'D'.
type Change = store.Change

// ContainerDiff lists what a container changed in its root filesystem, as
// `docker diff`: its upper directory over its image's layers, without the
// stubs the runtime made for its own mounts.
func (e *Engine) ContainerDiff(ctx context.Context, ref string) ([]Change, error) {
	_, c, err := e.runtimeContainer(ctx, ref)
	if err != nil {
		return nil, err
	}
	return store.UpperChanges(c.UpperDir(), c.Layers, ctr.Stubs)
}

// CommitOptions configure CommitContainer (commit's flags).
type CommitOptions struct {
	Ref     string   // REPO[:TAG] to tag the image with, "" for none
	Changes []string // -c: Dockerfile instructions applied to the config
	Message string   // -m
	Author  string   // -a
}

// CommitContainer makes an image of a container's image plus what the
// container changed, as `docker commit`. The container may be running:
// its upper directory is copied, not taken (a RUN step's is taken).
func (e *Engine) CommitContainer(ctx context.Context, ref string, o CommitOptions) (digest.Digest, error) {
	_, c, err := e.runtimeContainer(ctx, ref)
	if err != nil {
		return "", err
	}
	id := digest.Digest(c.ImageID)
	base, err := e.Config(id)
	if err != nil {
		return "", err
	}
	b, err := e.NewBuildSession(ctx)
	if err != nil {
		return "", err
	}
	defer b.Close(context.WithoutCancel(ctx))
	img, err := b.Base(ctx, id.String(), false)
	if err != nil {
		return "", err
	}
	var parent digest.Digest
	if n := len(img.Layers); n > 0 {
		parent = img.Layers[n-1].ChainID
	}
	info, err := e.store.CommitUpper(ctx, c.UpperDir(), c.Layers, ctr.Stubs, parent)
	if err != nil {
		return "", err
	}
	l := BuildLayer{ChainID: info.ChainID, DiffID: info.DiffID, Size: info.Size}
	if err := b.hold(ctx, l); err != nil {
		return "", err
	}
	cfg, err := commitConfig(base, c, o, info.DiffID)
	if err != nil {
		return "", err
	}
	var tags []string
	if o.Ref != "" {
		tags = []string{o.Ref}
	}
	return b.WriteImage(ctx, cfg, append(img.Layers, l), tags)
}

// commitConfig is the committed image's config: the image's, with the
// container's runtime config, -c's changes, and a history row.
func commitConfig(base *image.Config, c *Container, o CommitOptions, diffID digest.Digest) (*image.Config, error) {
	cfg := *base
	cc := image.ContainerConfig{}
	if base.Config != nil {
		cc = *base.Config
	}
	cc.Env, cc.User, cc.WorkingDir = c.Config.Env, c.Config.User, c.Config.WorkingDir
	cc.Cmd, cc.Entrypoint = c.Config.Cmd, c.Config.Entrypoint
	if err := image.ApplyChanges(&cc, o.Changes); err != nil {
		return nil, fmt.Errorf("-c: %w: %w", err, errdefs.ErrInvalid)
	}
	now := time.Now().UTC()
	cfg.Config, cfg.Created, cfg.Author, cfg.Comment, cfg.Container = &cc, &now, o.Author, o.Message, c.ID
	cfg.RootFS.DiffIDs = append(append([]digest.Digest(nil), base.RootFS.DiffIDs...), diffID)
	cfg.History = append(append([]image.History(nil), base.History...), image.History{Created: &now, Author: o.Author,
		CreatedBy: strings.TrimSpace(c.Path + " " + strings.Join(c.Args, " ")), Comment: o.Message})
	return &cfg, nil
}
