package cli

import (
	"os"

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

// createOptions turns the flags into the engine's container spec for
// image and command args, and has the engine check it.
func (o *containerOptions) createOptions(img string, args []string) (engine.CreateOptions, error) {
	spec := engine.ContainerSpec{
		Name:        o.name,
		Image:       img,
		Cmd:         args,
		Env:         o.env,
		EnvFiles:    o.envFiles,
		LookupEnv:   os.LookupEnv,
		Publish:     o.publish,
		PublishAll:  o.publishAll,
		Expose:      o.expose,
		Volumes:     o.volumes,
		Labels:      o.labels,
		User:        o.user,
		WorkingDir:  o.workdir,
		Hostname:    o.hostname,
		StopSignal:  o.stopSignal,
		Network:     o.network,
		Tty:         o.tty,
		OpenStdin:   o.interactive,
		AutoRemove:  o.rm,
		ReadOnly:    o.readOnly,
		Memory:      int64(o.memory),
		CPUs:        o.cpus,
		SecurityOpt: o.securityOpt,
	}
	// docker run -i (attached) closes the container's stdin when ours ends.
	spec.StdinOnce = o.interactive && !o.detach
	if o.entrypointSet {
		spec.Entrypoint = []string{}
		if o.entrypoint != "" {
			spec.Entrypoint = []string{o.entrypoint}
		}
	}
	return spec.Options()
}
