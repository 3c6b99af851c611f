package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// bindPlan is what a RUN bind mount brings in: the files planned, their
// hash for the step's key. Other mounts have a zero bindPlan.
type bindPlan struct {
	plan []planned
	op   copyOp
	dest string
	hash string
}

// planBinds plans each bind mount's files: from the context (its ignore
// file applied), a stage or an image, as COPY would copy them.
func (b *builder) planBinds(ctx context.Context, st *stage, mounts []*instructions.Mount) ([]bindPlan, error) {
	out := make([]bindPlan, len(mounts))
	for i, m := range mounts {
		if m.Type != instructions.MountTypeBind {
			continue
		}
		src, err := b.copySource(ctx, st, m.From)
		if err != nil {
			return nil, err
		}
		source := m.Source
		if source == "" {
			source = "/"
		}
		e, err := src.lstat(source)
		if err != nil {
			return nil, fmt.Errorf("--mount=type=bind,source=%s: %w", source, err)
		}
		bp := bindPlan{op: copyOp{srcs: []string{source}}, dest: "/bind"}
		if e.IsDir() {
			bp.dest = "/bind/"
		}
		if bp.plan, err = planCopy(src, bp.op, bp.dest, -1, -1, 0); err != nil {
			return nil, err
		}
		if bp.hash, err = hashPlan(bp.plan, nil, b.sums); err != nil {
			return nil, err
		}
		out[i] = bp
	}
	return out, nil
}

// write writes the planned files under dir and returns the path to bind.
func (bp bindPlan) write(ctx context.Context, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := writePlan(ctx, &layerFS{}, dir, bp.dest, bp.plan, bp.op, 0, 0, nil); err != nil {
		return "", err
	}
	return filepath.Join(dir, strings.TrimSuffix(bp.dest, "/")), nil
}

// mountKey is a --mount flag as the cache key takes it.
func mountKey(m *instructions.Mount) string {
	num := func(p *uint64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	env := "-"
	if m.Env != nil {
		env = *m.Env
	}
	return strings.Join([]string{string(m.Type), m.From, m.Source, m.Target, fmt.Sprint(m.ReadOnly), m.CacheID,
		string(m.CacheSharing), fmt.Sprint(m.Required), env, num(m.Mode), num(m.UID), num(m.GID)}, ",")
}
