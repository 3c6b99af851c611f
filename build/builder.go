package build

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

// builder is one build under way.
type builder struct {
	o       Options
	f       *file
	e       *engine.Engine
	sess    *engine.BuildSession
	lex     *shell.Lex
	globals map[string]string // the args declared before the first FROM
	stages  []*stage          // nil for a stage not (yet) built
	ctxFS   *contextFS
	sums    *fileSums // the context's files' digests by stat
	cache   *cache
	prog    *progress
	res     Result
}

// Build builds the image the Containerfile describes and tags it.
func Build(ctx context.Context, e *engine.Engine, o Options) (Result, error) {
	f, err := readFile(o)
	if err != nil {
		return Result{}, err
	}
	sess, err := e.NewBuildSession(ctx)
	if err != nil {
		return Result{}, err
	}
	defer sess.Close(context.WithoutCancel(ctx))
	b := &builder{o: o, f: f, e: e, sess: sess, lex: shell.NewLex(f.escape), globals: map[string]string{},
		stages: make([]*stage, len(f.stages)), cache: &cache{sess: sess, off: o.NoCache},
		prog: &progress{w: o.Progress, tty: o.ProgressTTY}}
	if o.ContextDir != "" {
		if b.ctxFS, err = openContext(o.ContextDir, f.path); err != nil {
			return Result{}, err
		}
		b.sums = loadSums(sess.CacheDir(), b.ctxFS.root)
		defer func() {
			if err := b.sums.save(); err != nil {
				slog.Debug("could not keep the context's digests", "err", err)
			}
		}()
	}
	if err := b.metaArgs(); err != nil {
		return Result{}, err
	}
	target, err := f.targetIndex(o.Target)
	if err != nil {
		return Result{}, err
	}
	need := f.needed(target, func(i int) string { n, _ := b.expandGlobal(f.stages[i].BaseName); return n })
	for i := range f.stages {
		if need[i] {
			if b.stages[i], err = b.buildStage(ctx, i); err != nil {
				return b.res, err
			}
		}
	}
	id, err := b.write(ctx, b.stages[target])
	b.res.ID = id.String()
	return b.res, err
}

// metaArgs sets the args declared before the first FROM.
func (b *builder) metaArgs() error {
	// BuildKit's automatic platform args: this machine's, the only one
	// berth builds for (a stage sees them once it declares them).
	p := image.DefaultPlatform()
	platform := image.FormatPlatform(p)
	for _, pre := range []string{"TARGET", "BUILD"} {
		b.globals[pre+"PLATFORM"], b.globals[pre+"OS"], b.globals[pre+"ARCH"], b.globals[pre+"VARIANT"] = platform, p.OS, p.Architecture, p.Variant
	}
	for _, a := range b.f.metaArgs {
		for _, kv := range a.Args {
			v, given := buildArg(b.o, kv.Key)
			if !given && kv.Value != nil {
				var err error
				if v, err = b.expandGlobal(*kv.Value); err != nil {
					return b.errAt(&a, err)
				}
			}
			b.globals[kv.Key] = v
		}
	}
	return nil
}

func (b *builder) expandGlobal(word string) (string, error) {
	var kv []string
	for k, v := range b.globals {
		kv = append(kv, k+"="+v)
	}
	res, _, err := b.lex.ProcessWord(word, shell.EnvsFromSlice(kv))
	return res, err
}

// errAt names the instruction and its line in the Containerfile.
func (b *builder) errAt(c instructions.Command, err error) error {
	text := c.Name()
	if s, ok := c.(fmt.Stringer); ok {
		text = s.String()
	}
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	return fmt.Errorf("%s:%d: %s: %w", b.f.name, line(c), text, err)
}

// buildStage builds stage i from its base, its base's ONBUILD triggers
// first.
func (b *builder) buildStage(ctx context.Context, i int) (*stage, error) {
	fs := b.f.stages[i]
	st, triggers, err := b.from(ctx, i)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: FROM %s: %w", b.f.name, fromLine(fs), fs.BaseName, err)
	}
	var cmds []instructions.Command
	for _, t := range triggers { // a base's triggers run first, in order
		c, err := parseTrigger(t)
		if err != nil {
			return nil, fmt.Errorf("%s: ONBUILD %s: %w", b.f.name, t, err)
		}
		cmds = append(cmds, c)
	}
	cmds = append(cmds, fs.Commands...)
	name := fs.Name
	if name == "" {
		name = fmt.Sprintf("stage-%d", i)
	}
	b.prog.step(fmt.Sprintf("[%s 1/%d] FROM %s", name, len(cmds)+1, fs.BaseName))
	for n, c := range cmds {
		b.prog.step(fmt.Sprintf("[%s %d/%d] %s", name, n+2, len(cmds)+1, firstLine(c)))
		if err := b.dispatch(ctx, st, c); err != nil {
			return nil, b.errAt(c, err)
		}
	}
	return st, nil
}

// from starts stage i: FROM scratch, an earlier stage, or an image. It
// returns the base image's ONBUILD triggers.
func (b *builder) from(ctx context.Context, i int) (*stage, []string, error) {
	base, err := b.expandGlobal(b.f.stages[i].BaseName)
	if err != nil {
		return nil, nil, err
	}
	st := &stage{name: b.f.stages[i].Name, args: map[string]string{}}
	switch j := b.f.stageIndex(base, i); {
	case strings.EqualFold(base, "scratch"):
		p := image.DefaultPlatform()
		st.cfg = image.Config{Architecture: p.Architecture, Variant: p.Variant, OS: p.OS, RootFS: image.RootFS{Type: "layers"}}
		st.key = digest.FromString("scratch")
		return st, nil, nil
	case j >= 0:
		prev := b.stages[j]
		st.cfg, st.layers, st.key = cloneConfig(prev.cfg), append([]engine.BuildLayer(nil), prev.layers...), prev.key
		return st, nil, nil
	}
	img, err := b.sess.Base(ctx, base, b.o.Pull)
	if err != nil {
		return nil, nil, err
	}
	st.cfg, st.layers, st.key = cloneConfig(*img.Config), img.Layers, img.ID
	var triggers []string
	if st.cfg.Config != nil {
		triggers, st.cfg.Config.OnBuild = st.cfg.Config.OnBuild, nil
	}
	return st, triggers, nil
}

func fromLine(s instructions.Stage) int {
	if len(s.Location) > 0 {
		return s.Location[0].Start.Line
	}
	return 0
}

// parseTrigger parses an ONBUILD trigger as the instruction it is.
func parseTrigger(t string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(t))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("not one instruction")
	}
	return instructions.ParseCommand(res.AST.Children[0])
}

func firstLine(c instructions.Command) string {
	text := c.Name()
	if s, ok := c.(fmt.Stringer); ok {
		text = s.String()
	}
	text, _, _ = strings.Cut(text, "\n")
	return text
}

// stamp is a step's created time: SOURCE_DATE_EPOCH when set, else t.
func (b *builder) stamp(t time.Time) time.Time {
	if b.o.SourceDateEpoch != nil {
		return b.o.SourceDateEpoch.UTC()
	}
	return t.UTC()
}
