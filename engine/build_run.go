package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/names"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/store"
)

// RunStep is one RUN of a build.
type RunStep struct {
	// Layers are the chain IDs of the layers the step runs over, lowest first.
	Layers []digest.Digest
	// Config is the stage's config so far: Env, User, WorkingDir.
	Config *image.ContainerConfig
	// Cmd is the command, already in exec form (a shell form is the
	// stage's SHELL plus the line).
	Cmd []string
	// Env adds build args and the like to the config's.
	Env []string
	// Network is "bridge", "none" or "host".
	Network string
	// Binds are -v values (cache and bind mounts).
	Binds          []string
	Stdout, Stderr io.Writer
}

// Run runs a RUN step in a container over its layers with a fresh upper
// directory. On exit code 0 it returns that directory, moved out of the
// container before its removal (no copy) to "fs" in a directory of its
// own, for the build to clean and commit and then remove the directory
// above it; the container is gone whatever happens.
func (b *BuildSession) Run(ctx context.Context, st RunStep) (upper string, code int, err error) {
	m, err := b.e.runtime(ctx)
	if err != nil {
		return "", -1, err
	}
	id := names.ID()
	name := fmt.Sprintf("%s%d-%s", buildStepPrefix, os.Getpid(), id[:12])
	dirs := make([]string, len(st.Layers))
	for i, l := range st.Layers {
		dirs[i] = b.e.store.LayerDir(l)
	}
	err = b.e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.HoldContainer(ctx, b.lease, id); err != nil {
			return err
		}
		return tx.AddContainer(ctx, store.ContainerRef{ID: id, Name: name, ImageRef: "build", Created: time.Now().UTC(), Layers: st.Layers})
	})
	if err != nil {
		return "", -1, err
	}
	defer b.removeStep(context.WithoutCancel(ctx), m, id)
	// Only what a step runs with: the image's volumes, ports and health
	// check are for its containers, not its build (BuildKit mounts no
	// volumes, so RUN's writes under a VOLUME path stay in the layer).
	cfg := &image.ContainerConfig{}
	if st.Config != nil {
		cfg.Env, cfg.User, cfg.WorkingDir = st.Config.Env, st.Config.User, st.Config.WorkingDir
	}
	c, err := m.Create(ctx, ctr.CreateOptions{ID: id, Name: name, Image: "build", Layers: dirs, ImageConfig: cfg,
		Cmd: st.Cmd, Entrypoint: []string{}, Env: st.Env, Network: st.Network, Volumes: st.Binds})
	if err != nil {
		return "", -1, err
	}
	s, err := m.Start(ctx, c.ID, &Streams{Stdout: st.Stdout, Stderr: st.Stderr})
	if err != nil {
		return "", -1, err
	}
	if code, err = s.Wait(ctx); err != nil || code != 0 {
		return "", code, err
	}
	if code, err = m.Wait(ctx, c.ID); err != nil { // the rootfs is unmounted once it has exited
		return "", code, err
	}
	dir, err := b.NewDir()
	if err != nil {
		return "", -1, err
	}
	upper = filepath.Join(dir, "fs")
	if err := os.Rename(c.UpperDir(), upper); err != nil {
		os.RemoveAll(dir)
		return "", -1, fmt.Errorf("taking the step's upper directory: %w", err)
	}
	return upper, 0, nil
}

// removeStep removes a step's container, running or not, and its record.
func (b *BuildSession) removeStep(ctx context.Context, m *ctr.Manager, id string) {
	if err := m.Remove(ctx, id, ctr.RemoveOptions{Force: true, Volumes: true}); err != nil {
		if _, gerr := m.Get(ctx, id); !errdefs.IsNotFound(gerr) {
			slog.Warn("could not remove a build step's container", "id", id, "err", err)
		}
	}
	// A step has no image of its own: forgetting it sweeps, and the
	// build's lease keeps its layers.
	if err := b.e.forgetContainers(ctx, &Container{ID: id}); err != nil {
		slog.Warn("could not forget a build step's container", "id", id, "err", err)
	}
}

// buildStepPrefix starts a RUN step's container name, followed by the pid
// of the berth that runs the build: a step whose berth is gone is ended
// by the next build (reapSteps).
const buildStepPrefix = "berth-build-"

// reapSteps removes the RUN step containers of builds whose berth died
// (killed, even with SIGKILL, before it could remove them), running or not.
func (e *Engine) reapSteps(ctx context.Context) error {
	m, err := e.runtime(ctx)
	if err != nil {
		return err
	}
	list, err := m.List(ctx)
	if err != nil {
		return err
	}
	b := &BuildSession{e: e}
	for _, c := range list {
		rest, ok := strings.CutPrefix(c.Name, buildStepPrefix)
		if !ok || c.Image != "build" {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue // its build is still running (or the pid was reused: left for later)
		}
		b.removeStep(ctx, m, c.ID)
	}
	return nil
}
