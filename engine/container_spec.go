package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/names"
	"github.com/berth-dev/berth/errdefs"
)

// ContainerSpec is a container's settings as a user typed them: from run's
// and create's flags, from the dashboard's Run form, from the Engine API.
// Options is the one validator: the same bad input gets the same error,
// whichever surface it was typed in.
type ContainerSpec struct {
	Image string
	Name  string
	// Cmd replaces the image's; Entrypoint, when not nil, replaces the
	// image's entrypoint and drops its Cmd (empty: --entrypoint "").
	Cmd, Entrypoint []string
	// Env are NAME=value, or a bare NAME that takes its value from
	// LookupEnv (the CLI's environment; nil: it stays bare). EnvFiles are
	// read first, as --env-file.
	Env       []string
	EnvFiles  []string
	LookupEnv func(string) (string, bool)
	// Publish are -p values; HostPorts are the dashboard's: a host port
	// for an exposed port. Expose are --expose values (ranges allowed).
	Publish    []string
	HostPorts  []HostPort
	PublishAll bool
	Expose     []string
	// Volumes are -v values; Labels are KEY=value.
	Volumes []string
	Labels  []string

	User, WorkingDir, Hostname, StopSignal, Network string
	Tty, OpenStdin, StdinOnce, AutoRemove, ReadOnly bool
	Memory                                          int64
	CPUs                                            float64
	SecurityOpt                                     []string
}

// HostPort publishes an exposed port ("80/tcp") on a host port ("0" picks
// a free one), as the dashboard's Run form asks.
type HostPort struct {
	Container string
	Host      string
}

// Options checks the spec as `docker run` checks its flags, with its
// words, and makes the runtime's options. What needs the image or the
// host (the command, the network, the limits) the runtime checks at
// create, the same way for every caller.
func (s ContainerSpec) Options() (CreateOptions, error) {
	o := CreateOptions{
		Name: s.Name, Image: s.Image, Cmd: s.Cmd, Entrypoint: s.Entrypoint,
		User: s.User, WorkingDir: s.WorkingDir, Hostname: s.Hostname, StopSignal: s.StopSignal,
		Tty: s.Tty, OpenStdin: s.OpenStdin, StdinOnce: s.StdinOnce, AutoRemove: s.AutoRemove,
		PublishAll: s.PublishAll, Network: s.Network, Volumes: s.Volumes,
		ReadOnly: s.ReadOnly, Memory: s.Memory, CPUs: s.CPUs, SecurityOpt: s.SecurityOpt,
	}
	if s.Image == "" {
		return o, errdefs.Newf(errdefs.ErrInvalid, "no image to run")
	}
	if s.Name != "" {
		if err := names.Check(s.Name); err != nil {
			return o, err
		}
	}
	var err error
	if o.Publish, err = s.publish(); err != nil {
		return o, err
	}
	if o.Expose, err = exposed(s.Expose); err != nil {
		return o, err
	}
	if o.Env, err = ParseEnv(s.Env, s.EnvFiles, s.LookupEnv); err != nil {
		return o, err
	}
	for _, v := range s.Volumes {
		if _, err := ctr.ParseVolume(v); err != nil {
			return o, err
		}
	}
	if len(s.Labels) > 0 {
		o.Labels = map[string]string{}
		for _, l := range s.Labels {
			k, v, _ := strings.Cut(l, "=")
			o.Labels[k] = v
		}
	}
	return o, nil
}

// publish reads -p values and the form's host ports.
func (s ContainerSpec) publish() ([]PublishedPort, error) {
	var out []PublishedPort
	for _, p := range s.Publish {
		b, err := ParsePublish(p)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	for _, p := range s.HostPorts {
		n, err := strconv.ParseUint(p.Host, 10, 16)
		if err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid host port %q for %s: a number from 0 to 65535 (0 picks a free port)", p.Host, p.Container)
		}
		port, proto, _ := strings.Cut(p.Container, "/")
		if proto == "" {
			proto = "tcp"
		}
		b, err := ParsePublish(fmt.Sprintf("%d:%s/%s", n, port, proto))
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// exposed reads --expose values: a port or a range, with a protocol.
func exposed(values []string) ([]string, error) {
	var out []string
	for _, e := range values {
		port, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		lo, hi, isRange := strings.Cut(port, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || a == 0 || b < a {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid range format for --expose: %s", e)
		}
		for p := a; p <= b; p++ {
			out = append(out, fmt.Sprintf("%d/%s", p, proto))
		}
	}
	return out, nil
}

// ParseEnv reads a container's or an exec's environment as Docker does:
// the files first (one NAME=value a line, # comments and blank lines
// skipped), then env; a bare NAME takes lookup's value (a file's is
// dropped when lookup has none). A name that is empty or has spaces is
// an error.
func ParseEnv(env, files []string, lookup func(string) (string, bool)) ([]string, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	out, err := readEnvFiles(files, lookup)
	if err != nil {
		return nil, err
	}
	for _, e := range env {
		k, _, hasValue := strings.Cut(e, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid environment variable: %s", e)
		}
		if v, ok := lookup(k); !hasValue && ok {
			e = k + "=" + v
		}
		out = append(out, e)
	}
	return out, nil
}

func readEnvFiles(files []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimLeftFunc(sc.Text(), unicode.IsSpace)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, hasValue := strings.Cut(line, "=")
			if strings.ContainsFunc(k, unicode.IsSpace) {
				return nil, errdefs.Newf(errdefs.ErrInvalid, "variable '%s' contains whitespaces", k)
			}
			if k == "" {
				return nil, errdefs.Newf(errdefs.ErrInvalid, "no variable name on line '%s'", line)
			}
			if hasValue {
				out = append(out, k+"="+v)
			} else if hv, ok := lookup(k); ok {
				out = append(out, k+"="+hv)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
}
