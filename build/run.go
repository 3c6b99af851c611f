package build

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

// run runs a RUN step in a container, unless the cache has it.
func (b *builder) run(ctx context.Context, st *stage, c *instructions.RunCommand) error {
	cmd := runCommand(st, c)
	createdBy := "RUN " + strings.Join(cmd, " ") + " # berth"
	network := b.o.Network
	if n := instructions.GetNetwork(c); n != "" {
		network = n
	}
	mounts := instructions.GetMounts(c)
	var flags []string
	for _, m := range mounts {
		flags = append(flags, fmt.Sprintf("%+v", *m))
	}
	// Heredoc bodies are part of cmd; secret and cache mounts' contents are
	// not part of the key, their places are.
	st.key = stepKey(st, "RUN", network, strings.Join(flags, "\x00"), strings.Join(cmd, "\x00"))
	if hit, err := b.fromCache(ctx, st, createdBy); hit || err != nil {
		return err
	}
	binds, stubs, err := b.runMounts(st, mounts)
	if err != nil {
		return err
	}
	start := time.Now()
	out := b.prog.output()
	upper, code, err := b.sess.Run(ctx, engine.RunStep{Layers: st.chainIDs(), Config: st.cc(), Cmd: cmd,
		Env: append(st.runEnv(), b.proxyEnv(st)...), Network: runNetwork(network), Binds: binds, Stdout: out, Stderr: out})
	out.Close()
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("exit code %d", code)
	}
	defer os.RemoveAll(filepath.Dir(upper))
	if err := cleanUpper(upper, b.stageFS(st), stubs); err != nil {
		return err
	}
	return b.commit(ctx, st, upper, createdBy, start)
}

// runCommand is the step's command in exec form. A heredoc that is the
// whole command is the shell's script; other heredocs stay in the line,
// bodies and all, for the shell to read.
func runCommand(st *stage, c *instructions.RunCommand) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	line := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 1 {
		if h := parser.MustParseHeredoc(line); h != nil && h.Name == c.Files[0].Name {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			return append(st.shell(), data)
		}
	}
	for _, f := range c.Files {
		line += "\n" + f.Data + f.Name
	}
	return append(st.shell(), line)
}

// runNetwork maps RUN's network to the runtime's.
func runNetwork(n string) string {
	if n == "" || n == "default" {
		return "bridge"
	}
	return n
}

// runMounts turns RUN's --mount flags into binds, and lists the mount
// points the runtime will make that the layer must not keep.
func (b *builder) runMounts(st *stage, mounts []*instructions.Mount) (binds, stubs []string, err error) {
	for _, m := range mounts {
		target := m.Target
		if !path.IsAbs(target) {
			target = path.Join("/", st.cc().WorkingDir, target)
		}
		var src string
		ro := ""
		switch m.Type {
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = target
			}
			src = filepath.Join(b.sess.CacheDir(), "mounts", fmt.Sprintf("%x", sha256.Sum256([]byte(id))))
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, nil, err
			}
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = path.Base(m.Target)
			}
			if target == "" || m.Target == "" {
				target = "/run/secrets/" + id
			}
			if src = b.o.Secrets[id]; src == "" {
				if m.Required {
					return nil, nil, fmt.Errorf("secret %s: not given (--secret id=%s,src=FILE): %w", id, id, errdefs.ErrInvalid)
				}
				continue
			}
			ro = ":ro"
		case instructions.MountTypeBind:
			if m.From != "" {
				return nil, nil, fmt.Errorf("--mount=type=bind,from=%s is not supported yet: %w", m.From, errdefs.ErrInvalid)
			}
			if b.ctxFS == nil {
				return nil, nil, fmt.Errorf("no build context to bind: %w", errdefs.ErrInvalid)
			}
			e, err := b.ctxFS.lstat(m.Source)
			if err != nil {
				return nil, nil, err
			}
			src, ro = e.host, ":ro"
		default:
			return nil, nil, fmt.Errorf("--mount=type=%s is not supported: %w", m.Type, errdefs.ErrInvalid)
		}
		binds = append(binds, src+":"+target+ro)
		stubs = append(stubs, target)
	}
	return binds, stubs, nil
}

// proxyEnv is the predefined proxy args a --build-arg gives: RUN sees them
// without an ARG, and, as in Docker, they stay out of the cache key and
// the image.
func (b *builder) proxyEnv(st *stage) []string {
	var out []string
	for _, k := range predefinedArgs {
		if _, declared := st.args[k]; declared {
			continue
		}
		if v, ok := buildArg(b.o, k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}
