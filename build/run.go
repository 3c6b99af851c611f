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
	binds, err := b.planBinds(ctx, st, mounts)
	if err != nil {
		return err
	}
	var flags []string
	for i, m := range mounts {
		flags = append(flags, mountKey(m), binds[i].hash)
	}
	// Heredoc bodies are part of cmd, and what bind mounts bring in is
	// hashed; secret and cache mounts' contents are not part of the key.
	st.key = stepKey(st, "RUN", network, strings.Join(flags, "\x00"), strings.Join(cmd, "\x00"))
	if hit, err := b.fromCache(ctx, st, createdBy); hit || err != nil {
		return err
	}
	tmp, err := b.sess.NewDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	vols, stubs, err := b.runMounts(ctx, st, mounts, binds, tmp)
	if err != nil {
		return err
	}
	exec := cmd
	if name, script, ok := shebangScript(c); ok {
		// A heredoc with a #! line is a program of its own: BuildKit runs
		// it from /dev/pipes, and so does berth.
		host := filepath.Join(tmp, "script")
		if err := os.WriteFile(host, []byte(script), 0o755); err != nil {
			return err
		}
		vols = append(vols, host+":/dev/pipes/"+name+":ro")
		stubs = append(stubs, "/dev/pipes/"+name)
		exec = []string{"/dev/pipes/" + name}
	}
	start := time.Now()
	out := b.prog.output()
	upper, code, err := b.sess.Run(ctx, engine.RunStep{Layers: st.chainIDs(), Config: st.cc(), Cmd: exec,
		Env: append(st.runEnv(), b.proxyEnv(st)...), Network: runNetwork(network), Binds: vols, Stdout: out, Stderr: out})
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

// shebangScript is the heredoc that is a RUN's whole command when it
// starts with a #! line.
func shebangScript(c *instructions.RunCommand) (name, script string, ok bool) {
	if !c.PrependShell || len(c.Files) != 1 {
		return "", "", false
	}
	h := parser.MustParseHeredoc(strings.Join(c.CmdLine, " "))
	f := c.Files[0]
	if h == nil || h.Name != f.Name || !strings.HasPrefix(f.Data, "#!") || strings.Contains(f.Name, "/") {
		return "", "", false
	}
	data := f.Data
	if f.Chomp {
		data = parser.ChompHeredocContent(data)
	}
	return f.Name, data, true
}

// runNetwork maps RUN's network to the runtime's.
func runNetwork(n string) string {
	if n == "" || n == "default" {
		return "bridge"
	}
	return n
}

// runMounts turns RUN's --mount flags into binds, and lists the mount
// points the runtime will make that the layer must not keep. Bind mounts'
// files are written under tmp first, read-only for the step.
func (b *builder) runMounts(ctx context.Context, st *stage, mounts []*instructions.Mount, planned []bindPlan, tmp string) (binds, stubs []string, err error) {
	for i, m := range mounts {
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
			if m.Target == "" {
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
			if src, err = planned[i].write(ctx, filepath.Join(tmp, fmt.Sprint(i))); err != nil {
				return nil, nil, err
			}
			// BuildKit's binds take writes and throw them away; a bind of a
			// copy made for the step does the same, read-only is simpler.
			ro = ":ro"
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
