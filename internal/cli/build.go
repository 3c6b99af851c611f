package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
)

// buildFlags are `berth build`'s options, as Docker's.
type buildFlags struct {
	tags, buildArgs, labels, secrets []string
	outputs                          []string
	file, target, iidfile, network   string
	progress, platform               string
	noCache, pull, quiet             bool
}

func (a *app) buildCommand() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Containerfile",
		Long: "Build an image from a Containerfile (or Dockerfile) and a context directory.\n\n" +
			"RUN steps run in containers on berth's default network; --network host gives a\n" +
			"trusted build the host's network, where a step can also reach services listening\n" +
			"on the host's loopback; --network none cuts it.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.build(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	fl.StringVarP(&f.file, "file", "f", "", `Name of the Containerfile (default: "PATH/Containerfile", then "PATH/Dockerfile"; "-" reads stdin)`)
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "Set build-time variables")
	fl.StringArrayVar(&f.labels, "label", nil, "Set metadata for an image")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, `Output destination (format: "type=docker|oci,dest=FILE"; "-" for stdout)`)
	fl.StringArrayVar(&f.secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret,src=/local/secret")`)
	fl.StringVar(&f.target, "target", "", "Set the target build stage to build")
	fl.StringVar(&f.iidfile, "iidfile", "", "Write the image ID to the file")
	fl.StringVar(&f.network, "network", "default", `Set the networking mode for the RUN instructions ("default", "none", "host")`)
	fl.StringVar(&f.progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty")`)
	fl.StringVar(&f.platform, "platform", "", "Set the target platform (this machine's only)")
	fl.BoolVar(&f.noCache, "no-cache", false, "Do not use cache when building the image")
	fl.BoolVar(&f.pull, "pull", false, "Always attempt to pull a newer version of the image")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	return cmd
}

func (a *app) build(cmd *cobra.Command, path string, f buildFlags) error {
	o, cleanup, err := a.buildOptions(path, f)
	if err != nil {
		return err
	}
	defer cleanup()
	e, err := a.engine(cmd.Context())
	if err != nil {
		return err
	}
	res, err := build.Build(cmd.Context(), e, o)
	if err != nil {
		return err
	}
	for _, out := range f.outputs {
		if err := a.buildOutput(cmd, e, res.ID, out); err != nil {
			return err
		}
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(res.ID), 0o644); err != nil {
			return err
		}
	}
	if f.quiet {
		fmt.Fprintln(a.stdout, res.ID)
		return nil
	}
	fmt.Fprintf(a.stderr, "#%s writing image %s done\n", "0", res.ID)
	for _, t := range f.tags {
		fmt.Fprintf(a.stderr, "#0 naming to %s done\n", t)
	}
	return nil
}

// buildOptions reads the flags into build.Options, with the context from
// PATH, or from stdin for "-" (a tar, or a lone Containerfile).
func (a *app) buildOptions(path string, f buildFlags) (build.Options, func(), error) {
	o := build.Options{ContextDir: path, File: f.file, Tags: f.tags, Target: f.target, NoCache: f.noCache,
		Pull: f.pull, Network: f.network, BuildArgs: map[string]*string{}, Labels: map[string]string{}, Secrets: map[string]string{}}
	cleanup := func() {}
	if err := checkBuildFlags(f); err != nil {
		return o, cleanup, err
	}
	if !f.quiet {
		o.Progress = a.stderr
		// auto: BuildKit's view on a terminal, plain lines otherwise.
		o.ProgressTTY = f.progress == "tty" || f.progress == "auto" && isTerminal(a.stderr)
	}
	for _, kv := range f.buildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			o.BuildArgs[k] = &v
		} else {
			o.BuildArgs[k] = nil
		}
	}
	for _, kv := range f.labels {
		k, v, _ := strings.Cut(kv, "=")
		o.Labels[k] = v
	}
	for _, s := range f.secrets {
		id, src, err := parseSecret(s)
		if err != nil {
			return o, cleanup, err
		}
		o.Secrets[id] = src
	}
	epoch, err := sourceDateEpoch(o.BuildArgs)
	if err != nil {
		return o, cleanup, err
	}
	o.SourceDateEpoch = epoch
	if f.file == "-" {
		data, err := io.ReadAll(a.stdin)
		if err != nil {
			return o, cleanup, err
		}
		o.File, o.FileData = "", data
	}
	if path == "-" {
		return a.stdinContext(o)
	}
	if f.file != "" && f.file != "-" && !filepath.IsAbs(f.file) {
		if _, err := os.Stat(f.file); err != nil {
			o.File = filepath.Join(path, f.file) // as Docker, relative to the context if not found here
		}
	}
	return o, cleanup, nil
}

func checkBuildFlags(f buildFlags) error {
	switch f.progress {
	case "auto", "plain", "tty":
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "invalid --progress %q: use auto, plain or tty", f.progress)
	}
	switch f.network {
	case "default", "none", "host":
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: use default, none or host", f.network)
	}
	if f.platform != "" {
		p, err := image.ParsePlatform(f.platform)
		if err != nil {
			return err
		}
		if host := image.DefaultPlatform(); !image.MatchPlatform(p, host) {
			return errdefs.Newf(errdefs.ErrInvalid, "cannot build for %s: berth builds for this machine's platform only (%s)",
				image.FormatPlatform(p), image.FormatPlatform(host))
		}
	}
	return nil
}

func parseSecret(s string) (id, src string, err error) {
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "id":
			id = v
		case "src", "source":
			src = v
		}
	}
	if id == "" || src == "" {
		return "", "", errdefs.Newf(errdefs.ErrInvalid, "invalid --secret %q: want id=ID,src=FILE", s)
	}
	return id, src, nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH from the build args, else from
// the environment.
func sourceDateEpoch(args map[string]*string) (*time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if p, given := args["SOURCE_DATE_EPOCH"]; given && p != nil {
		v, ok = *p, true
	}
	if !ok || v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "SOURCE_DATE_EPOCH=%q is not a number of seconds", v)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}

// stdinContext reads `build -`'s stdin: a tar context, unpacked into a
// temporary directory, or a lone Containerfile with no context.
func (a *app) stdinContext(o build.Options) (build.Options, func(), error) {
	data, err := io.ReadAll(a.stdin)
	if err != nil {
		return o, func() {}, err
	}
	if !looksLikeTar(data) {
		o.ContextDir, o.File, o.FileData = "", "", data
		return o, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "berth-context-")
	if err != nil {
		return o, func() {}, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := untarContext(bytes.NewReader(data), dir); err != nil {
		cleanup()
		return o, func() {}, err
	}
	o.ContextDir = dir
	return o, cleanup, nil
}

func looksLikeTar(b []byte) bool {
	return len(b) >= 262 && string(b[257:262]) == "ustar" || len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b
}

// buildOutput writes the image -o asks for: type=docker or type=oci, an
// archive that is both (as Docker 25 writes it), to dest or stdout.
func (a *app) buildOutput(cmd *cobra.Command, e *engine.Engine, id, spec string) error {
	kind, dest := "", ""
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			kind = v
		case "dest":
			dest = v
		}
	}
	if kind != "docker" && kind != "oci" {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid --output %q: berth writes type=docker or type=oci", spec)
	}
	if dest == "" || dest == "-" {
		return e.Save(cmd.Context(), a.stdout, []string{id})
	}
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	if err := e.Save(cmd.Context(), f, []string{id}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
