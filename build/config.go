package build

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// dispatch runs one instruction on the stage.
func (b *builder) dispatch(ctx context.Context, st *stage, c instructions.Command) error {
	if x, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		env := st.env()
		err := x.Expand(func(word string) (string, error) {
			res, _, err := b.lex.ProcessWord(word, env)
			return res, err
		})
		if err != nil {
			return err
		}
	}
	switch c := c.(type) {
	case *instructions.RunCommand:
		return b.run(ctx, st, c)
	case *instructions.CopyCommand:
		return b.copy(ctx, st, copyFromCopy(c))
	case *instructions.AddCommand:
		return b.copy(ctx, st, copyFromAdd(c))
	case *instructions.WorkdirCommand:
		return b.workdir(ctx, st, c)
	case *instructions.ArgCommand:
		b.arg(st, c)
		st.key = stepKey(st, "ARG", argsText(c))
		return nil
	}
	createdBy, err := configStep(st, c)
	if err != nil {
		return err
	}
	st.key = stepKey(st, "CONFIG", createdBy)
	at, err := b.configTime(ctx, st)
	st.history(createdBy, false, at)
	return err
}

// configStep applies an instruction that only changes the config and
// returns its history row's created_by, as BuildKit writes it.
func configStep(st *stage, c instructions.Command) (string, error) {
	cc := st.cc()
	switch c := c.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range c.Env {
			cc.Env = setEnv(cc.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return "ENV " + strings.Join(parts, " "), nil
	case *instructions.LabelCommand:
		var parts []string
		for _, kv := range c.Labels {
			if cc.Labels == nil {
				cc.Labels = map[string]string{}
			}
			cc.Labels[kv.Key] = kv.Value
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return "LABEL " + strings.Join(parts, " "), nil
	case *instructions.MaintainerCommand:
		st.cfg.Author = c.Maintainer
		return "MAINTAINER " + c.Maintainer, nil
	case *instructions.UserCommand:
		cc.User = c.User
		return "USER " + c.User, nil
	case *instructions.ExposeCommand:
		return expose(cc, c.Ports)
	case *instructions.VolumeCommand:
		if cc.Volumes == nil {
			cc.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			cc.Volumes[v] = struct{}{}
		}
		return "VOLUME " + jsonText(c.Volumes), nil
	case *instructions.StopSignalCommand:
		cc.StopSignal = c.Signal
		return "STOPSIGNAL " + c.Signal, nil
	case *instructions.ShellCommand:
		cc.Shell = c.Shell
		return "SHELL " + jsonText(c.Shell), nil
	case *instructions.OnbuildCommand:
		cc.OnBuild = append(cc.OnBuild, c.Expression)
		return "ONBUILD " + c.Expression, nil
	case *instructions.CmdCommand:
		cc.Cmd = commandLine(st, c.ShellDependantCmdLine)
		st.cmdSet = true
		return "CMD " + jsonText(cc.Cmd), nil
	case *instructions.EntrypointCommand:
		cc.Entrypoint = commandLine(st, c.ShellDependantCmdLine)
		if !st.cmdSet {
			cc.Cmd = nil // an inherited CMD goes with the old entrypoint
		}
		return "ENTRYPOINT " + jsonText(cc.Entrypoint), nil
	case *instructions.HealthCheckCommand:
		h := c.Health
		cc.Healthcheck = &image.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		return "HEALTHCHECK " + healthText(h.Test), nil
	}
	return "", fmt.Errorf("%s is not supported: %w", strings.ToUpper(c.Name()), errdefs.ErrInvalid)
}

func expose(cc *image.ContainerConfig, ports []string) (string, error) {
	if cc.ExposedPorts == nil {
		cc.ExposedPorts = map[string]struct{}{}
	}
	var parts []string
	for _, p := range ports {
		for _, f := range strings.Fields(p) {
			if !strings.Contains(f, "/") {
				f += "/tcp"
			}
			cc.ExposedPorts[f] = struct{}{}
			parts = append(parts, f)
		}
	}
	slices.Sort(parts) // as Go prints the map BuildKit writes
	return "EXPOSE map[" + strings.Join(parts, ":{} ") + ":{}]", nil
}

func healthText(test []string) string {
	if len(test) > 0 && test[0] == "NONE" {
		return "NONE"
	}
	return "CMD " + jsonText(test)
}

// commandLine is a CMD, ENTRYPOINT or RUN in exec form: a shell form runs
// in the stage's SHELL.
func commandLine(st *stage, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	return append(st.shell(), strings.Join(c.CmdLine, " "))
}

// shell is the stage's SHELL, /bin/sh -c by default.
func (s *stage) shell() []string {
	if sh := s.cc().Shell; len(sh) > 0 {
		return append([]string(nil), sh...)
	}
	return []string{"/bin/sh", "-c"}
}

func jsonText(v []string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// arg declares the stage's build args: a --build-arg value wins, then the
// default, then the value of the same arg declared before FROM.
func (b *builder) arg(st *stage, c *instructions.ArgCommand) {
	for _, kv := range c.Args {
		v, given := buildArg(b.o, kv.Key)
		switch {
		case given:
		case kv.Value != nil:
			v = *kv.Value
		default:
			v = b.globals[kv.Key]
		}
		st.declare(kv.Key, v)
	}
}

func argsText(c *instructions.ArgCommand) string {
	var parts []string
	for _, kv := range c.Args {
		parts = append(parts, kv.String())
	}
	return strings.Join(parts, " ")
}

// workdir sets the working directory, made in a layer of its own when the
// stage does not have it yet, as BuildKit makes it.
func (b *builder) workdir(ctx context.Context, st *stage, c *instructions.WorkdirCommand) error {
	dir := c.Path
	if !path.IsAbs(dir) {
		dir = path.Join("/", st.cc().WorkingDir, dir)
	}
	st.cc().WorkingDir = path.Clean(dir)
	createdBy := "WORKDIR " + st.cc().WorkingDir
	st.key = stepKey(st, "WORKDIR", createdBy)
	if _, err := b.stageFS(st).lstat(st.cc().WorkingDir); err == nil {
		at, err := b.configTime(ctx, st)
		st.history(createdBy, false, at)
		return err
	}
	return b.layerStep(ctx, st, createdBy, func(dir string) error {
		return mkdirAll(b.stageFS(st), dir, st.cc().WorkingDir, b.clamp())
	})
}

// cloneConfig copies a config deeply enough that a stage may change it.
func cloneConfig(c image.Config) image.Config {
	out := c
	out.History = slices.Clone(c.History)
	out.RootFS.DiffIDs = slices.Clone(c.RootFS.DiffIDs)
	if c.Config != nil {
		cc := *c.Config
		cc.Env, cc.Cmd, cc.Entrypoint = slices.Clone(cc.Env), slices.Clone(cc.Cmd), slices.Clone(cc.Entrypoint)
		cc.OnBuild, cc.Shell = slices.Clone(cc.OnBuild), slices.Clone(cc.Shell)
		cc.Labels, cc.ExposedPorts, cc.Volumes = maps.Clone(cc.Labels), maps.Clone(cc.ExposedPorts), maps.Clone(cc.Volumes)
		out.Config = &cc
	}
	return out
}

// stepKey chains a step's cache key to the one before it.
func stepKey(st *stage, parts ...string) digest.Digest {
	return digest.FromString(strings.Join(append([]string{st.key.String(), st.argsKey()}, parts...), "\x00"))
}
