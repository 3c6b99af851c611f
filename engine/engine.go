// Package engine is berth's local engine as a library: what the CLI and the
// dashboard call to list, inspect, load, save, import, pull, push and remove
// images, and to create, run, stop and remove containers and volumes. It
// puts Docker's rules on top of the store and the container runtime, and is
// the one way to both: it keeps its records of containers in step with the
// runtime's, which it does not hand out. It does not print.
package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// Options configure an engine.
type Options struct {
	// Root is the store directory.
	Root string
	// DefaultHub is the hub short names refer to ("" means image.DefaultHub).
	DefaultHub string
	// Runtime configures the container runtime (the zero value is right
	// for the berth command).
	Runtime RuntimeOptions
}

// Engine is an open local engine.
type Engine struct {
	store *store.Store
	hub   string
	// running tells whether a container is running (rmi's rules differ);
	// the container runtime answers it.
	running func(ctx context.Context, id string) bool
	ctrs    containers
}

// Open opens the engine over the store at opts.Root.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	s, err := store.Open(ctx, opts.Root)
	if err != nil {
		return nil, err
	}
	hub := opts.DefaultHub
	if hub == "" {
		hub = image.DefaultHub
	}
	e := &Engine{store: s, hub: hub, ctrs: containers{opts: opts.Runtime}}
	e.running = e.containerRunning
	return e, nil
}

// Close releases the store.
func (e *Engine) Close() error { return e.store.Close() }

// Store is the engine's store, for the parts of berth built on it.
func (e *Engine) Store() *store.Store { return e.store }

// DefaultHub is the hub short names refer to.
func (e *Engine) DefaultHub() string { return e.hub }

// ParseReference parses a name against the engine's default hub.
func (e *Engine) ParseReference(s string) (image.Reference, error) {
	return image.ParseReference(s, e.hub)
}

// Familiar prints a full reference as Docker prints docker.io ones.
func (e *Engine) Familiar(ref string) string {
	r, err := image.ParseReference(ref, e.hub)
	if err != nil {
		return ref
	}
	return r.FamiliarString(e.hub)
}

// NoSuchImage is the error for a name or ID that matches no image.
func NoSuchImage(name string) error {
	return errdefs.Newf(errdefs.ErrNotFound, "No such image: %s", name)
}

// Resolved is how a name given by the user resolved.
type Resolved struct {
	ID digest.Digest
	// Ref is the tag or digest reference when the name was one, nil when
	// the name was an image ID or ID prefix.
	Ref *image.Reference
}

// Resolve finds the image a name refers to, as Docker does: a full ID, then
// a repository reference (tag or digest), then an ID prefix.
func (e *Engine) Resolve(ctx context.Context, name string) (Resolved, error) {
	var out Resolved
	err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = e.resolve(ctx, tx, name)
		return err
	})
	return out, err
}

func (e *Engine) resolve(ctx context.Context, tx *store.Tx, name string) (Resolved, error) {
	if d, err := digest.Parse(name); err == nil {
		if _, err := tx.Image(ctx, d); err == nil {
			return Resolved{ID: d}, nil
		}
		return Resolved{}, NoSuchImage(name)
	}
	if ref, err := e.ParseReference(name); err == nil {
		if ref.Digest != "" {
			rds, err := tx.RepoDigests(ctx, "")
			if err != nil {
				return Resolved{}, err
			}
			for _, rd := range rds {
				if rd.Repo == ref.Name() && rd.Digest == ref.Digest {
					return Resolved{ID: rd.ImageID, Ref: &ref}, nil
				}
			}
			// A digest reference may name the config itself.
			if _, err := tx.Image(ctx, ref.Digest); err == nil && ref.Tag == "" {
				return Resolved{ID: ref.Digest, Ref: &ref}, nil
			}
		} else {
			tagged := ref.WithDefaultTag()
			if id, err := tx.ResolveTag(ctx, tagged.String()); err == nil {
				return Resolved{ID: id, Ref: &tagged}, nil
			} else if !errors.Is(err, errdefs.ErrNotFound) {
				return Resolved{}, err
			}
		}
	} else if !isHexPrefix(strings.TrimPrefix(name, "sha256:")) {
		return Resolved{}, err
	}
	prefix := strings.TrimPrefix(name, "sha256:")
	if isHexPrefix(prefix) {
		ids, err := tx.ImagesByPrefix(ctx, prefix)
		if err != nil {
			return Resolved{}, err
		}
		switch len(ids) {
		case 1:
			return Resolved{ID: ids[0]}, nil
		case 0:
		default:
			return Resolved{}, fmt.Errorf("%s is ambiguous: it is the start of %d image IDs: %w", name, len(ids), errdefs.ErrInvalid)
		}
	}
	return Resolved{}, NoSuchImage(name)
}

func isHexPrefix(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
