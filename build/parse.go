package build

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/berth-dev/berth/errdefs"
)

// file is a parsed Containerfile.
type file struct {
	name     string // as errors name it: "Containerfile"
	path     string // on the host, "" when read from stdin
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	escape   rune
}

// readFile finds, reads and parses the Containerfile.
func readFile(o Options) (*file, error) {
	f := &file{name: "Containerfile", path: o.File}
	data := o.FileData
	if data == nil {
		if f.path == "" {
			for _, n := range []string{"Containerfile", "Dockerfile"} {
				p := filepath.Join(o.ContextDir, n)
				if _, err := os.Stat(p); err == nil {
					f.path = p
					break
				}
			}
			if f.path == "" {
				return nil, fmt.Errorf("no Containerfile or Dockerfile in %s: %w", o.ContextDir, errdefs.ErrInvalid)
			}
		}
		var err error
		if data, err = os.ReadFile(f.path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("%w: %w", err, errdefs.ErrInvalid)
			}
			return nil, err
		}
		f.name = filepath.Base(f.path)
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", f.name, err, errdefs.ErrInvalid)
	}
	f.escape = res.EscapeToken
	f.stages, f.metaArgs, err = instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", f.name, err, errdefs.ErrInvalid)
	}
	if len(f.stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM instruction: %w", f.name, errdefs.ErrInvalid)
	}
	return f, nil
}

// line is where a command starts in the Containerfile.
func line(c instructions.Command) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// stageIndex finds a stage by name or number among the first n stages,
// -1 when none is named so (then it is an image).
func (f *file) stageIndex(name string, n int) int {
	for i := 0; i < n; i++ {
		if f.stages[i].Name != "" && strings.EqualFold(f.stages[i].Name, name) {
			return i
		}
	}
	if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < n {
		return i
	}
	return -1
}

// targetIndex is the stage --target names, the last one by default.
func (f *file) targetIndex(target string) (int, error) {
	if target == "" {
		return len(f.stages) - 1, nil
	}
	if i := f.stageIndex(target, len(f.stages)); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("target stage %q could not be found: %w", target, errdefs.ErrInvalid)
}

// needed marks the stages the target depends on: its base, the stages it
// copies or mounts from, and theirs, so the others are skipped. base
// expands a stage's FROM name.
func (f *file) needed(target int, base func(i int) string) []bool {
	need := make([]bool, len(f.stages))
	var visit func(i int)
	visit = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		if j := f.stageIndex(base(i), i); j >= 0 {
			visit(j)
		}
		for _, c := range f.stages[i].Commands {
			for _, from := range fromNames(c) {
				if j := f.stageIndex(from, i); j >= 0 {
					visit(j)
				}
			}
		}
	}
	visit(target)
	return need
}

// fromNames are the stages or images a command reads from.
func fromNames(c instructions.Command) []string {
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			return []string{c.From}
		}
	case *instructions.RunCommand:
		var out []string
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				out = append(out, m.From)
			}
		}
		return out
	}
	return nil
}
