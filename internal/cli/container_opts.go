package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
)

// containerOptions are the flags `run` and `create` share, as Docker's.
type containerOptions struct {
	name                 string
	publish, expose      []string
	publishAll           bool
	env, envFiles        []string
	volumes              []string
	workdir, user        string
	entrypoint           string
	hostname             string
	readOnly             bool
	memory               memBytes
	cpus                 float64
	securityOpt          []string
	network              string
	labels               []string
	stopSignal           string
	interactive, tty, rm bool
	entrypointSet        bool
	detach               bool
	sigProxy             bool
	detachKeys           string
}

func addContainerFlags(f *pflag.FlagSet, o *containerOptions) {
	f.SetInterspersed(false) // what follows IMAGE is the container's command
	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	f.StringArrayVar(&o.expose, "expose", nil, "Expose a port or a range of ports")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "Read in a file of environment variables")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "Bind mount a volume")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	f.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	f.Bool("help", false, "Print usage") // -h is --hostname, as in Docker
	f.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Float64Var(&o.cpus, "cpus", 0, "Number of CPUs")
	f.StringArrayVar(&o.securityOpt, "security-opt", nil, "Security Options")
	f.StringVar(&o.network, "network", "default", "Connect a container to a network (bridge, none or host)")
	f.StringVar(&o.network, "net", "default", "Connect a container to a network")
	_ = f.MarkHidden("net")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "Set meta data on a container")
	f.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVar(&o.rm, "rm", false, "Automatically remove the container when it exits")
}

// memBytes is a size flag as Docker's (-m 512m).
type memBytes int64

func (m *memBytes) String() string {
	if *m == 0 {
		return ""
	}
	return units.BytesSize(float64(*m))
}

func (m *memBytes) Set(s string) error {
	n, err := units.RAMInBytes(s)
	*m = memBytes(n)
	return err
}

func (m *memBytes) Type() string { return "bytes" }

// createOptions turns the flags into the runtime's options for image and
// command args.
func (o *containerOptions) createOptions(img string, args []string) (engine.CreateOptions, error) {
	co := engine.CreateOptions{
		Name:        o.name,
		Image:       img,
		Cmd:         args,
		User:        o.user,
		WorkingDir:  o.workdir,
		Hostname:    o.hostname,
		StopSignal:  o.stopSignal,
		Tty:         o.tty,
		OpenStdin:   o.interactive,
		AutoRemove:  o.rm,
		PublishAll:  o.publishAll,
		Network:     o.network,
		Volumes:     o.volumes,
		ReadOnly:    o.readOnly,
		Memory:      int64(o.memory),
		CPUs:        o.cpus,
		SecurityOpt: o.securityOpt,
	}
	// docker run -i (attached) closes the container's stdin when ours ends.
	co.StdinOnce = o.interactive && !o.detach
	if o.entrypointSet {
		co.Entrypoint = []string{}
		if o.entrypoint != "" {
			co.Entrypoint = []string{o.entrypoint}
		}
	}
	for _, p := range o.publish {
		b, err := engine.ParsePublish(p)
		if err != nil {
			return co, err
		}
		co.Publish = append(co.Publish, b...)
	}
	for _, e := range o.expose {
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
			return co, fmt.Errorf("invalid range format for --expose: %s", e)
		}
		for p := a; p <= b; p++ {
			co.Expose = append(co.Expose, fmt.Sprintf("%d/%s", p, proto))
		}
	}
	env, err := readEnvFiles(o.envFiles)
	if err != nil {
		return co, err
	}
	for _, e := range o.env {
		if strings.ContainsAny(strings.SplitN(e, "=", 2)[0], " \t") {
			return co, fmt.Errorf("invalid environment variable: %s", e)
		}
		env = append(env, withHostValue(e))
	}
	co.Env = env
	if len(o.labels) > 0 {
		co.Labels = map[string]string{}
		for _, l := range o.labels {
			k, v, _ := strings.Cut(l, "=")
			co.Labels[k] = v
		}
	}
	return co, nil
}

// withHostValue gives "NAME" (no "=") the value it has here, as Docker's
// -e does; unset, it stays a bare name.
func withHostValue(e string) string {
	if strings.Contains(e, "=") {
		return e
	}
	if v, ok := os.LookupEnv(e); ok {
		return e + "=" + v
	}
	return e
}

// readEnvFiles reads --env-file files as Docker does: one NAME=value per
// line, # comments and blank lines skipped, a bare NAME taking the value
// it has here (dropped when unset).
func readEnvFiles(files []string) ([]string, error) {
	var out []string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimLeftFunc(sc.Text(), unicode.IsSpace)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, hasValue := strings.Cut(line, "=")
			if strings.ContainsFunc(k, unicode.IsSpace) {
				return nil, fmt.Errorf("variable '%s' contains whitespaces", k)
			}
			if k == "" {
				return nil, fmt.Errorf("no variable name on line '%s'", line)
			}
			if hasValue {
				out = append(out, k+"="+v)
			} else if hv, ok := os.LookupEnv(k); ok {
				out = append(out, k+"="+hv)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
}
