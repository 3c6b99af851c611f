package spec

import (
	"encoding/json"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// A profile is a seccomp policy before it meets a container: its rules still
// carry the conditions (capabilities, architecture, kernel) that decide
// whether they apply, as in Docker's profile format.
type profile struct {
	defaultAction specs.LinuxSeccompAction // SCMP_ACT_ERRNO when empty
	defaultErrno  uint
	arches        map[string][]specs.Arch // by GOARCH
	rules         []rule
}

// A rule allows the named syscalls, or fails them with errno, when its
// conditions hold.
type rule struct {
	names     []string
	action    specs.LinuxSeccompAction // SCMP_ACT_ALLOW, or SCMP_ACT_ERRNO when errno is set
	errno     uint
	args      []specs.LinuxSeccompArg
	caps      []string // applies only with every one of these capabilities
	notCaps   []string // applies only without any of these
	arches    []string // applies only on these GOARCHes
	notArches []string
	minKernel string // applies only on this kernel version or later
}

// DefaultSeccomp returns Docker's default seccomp profile for a container
// whose bounding set is caps.
func DefaultSeccomp(caps []string) (*specs.LinuxSeccomp, error) {
	return defaultProfile.resolve(caps, goruntime.GOARCH, kernelVersion())
}

// ParseSeccompProfile reads a seccomp profile in Docker's JSON format (what
// `--security-opt seccomp=FILE` names) and resolves it for caps.
func ParseSeccompProfile(data []byte, caps []string) (*specs.LinuxSeccomp, error) {
	p, err := parseDockerProfile(data)
	if err != nil {
		return nil, err
	}
	return p.resolve(caps, goruntime.GOARCH, kernelVersion())
}

func (p *profile) resolve(caps []string, goarch string, kernel [2]int) (*specs.LinuxSeccomp, error) {
	out := &specs.LinuxSeccomp{DefaultAction: p.defaultAction}
	if out.DefaultAction == "" {
		out.DefaultAction = specs.ActErrno
	}
	if p.defaultErrno != 0 {
		e := p.defaultErrno
		out.DefaultErrnoRet = &e
	}
	out.Architectures = p.arches[goarch]
	for _, r := range p.rules {
		ok, err := r.applies(caps, goarch, kernel)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		sc := specs.LinuxSyscall{Names: r.names, Action: r.action, Args: r.args}
		if sc.Action == "" {
			sc.Action = specs.ActAllow
			if r.errno != 0 {
				sc.Action = specs.ActErrno
			}
		}
		if r.errno != 0 {
			e := r.errno
			sc.ErrnoRet = &e
		}
		out.Syscalls = append(out.Syscalls, sc)
	}
	return out, nil
}

func (r *rule) applies(caps []string, goarch string, kernel [2]int) (bool, error) {
	if len(r.arches) > 0 && !slices.Contains(r.arches, goarch) {
		return false, nil
	}
	if slices.Contains(r.notArches, goarch) {
		return false, nil
	}
	for _, c := range r.caps {
		if !slices.Contains(caps, c) {
			return false, nil
		}
	}
	for _, c := range r.notCaps {
		if slices.Contains(caps, c) {
			return false, nil
		}
	}
	if r.minKernel != "" {
		want, err := parseKernel(r.minKernel)
		if err != nil {
			return false, err
		}
		if kernel[0] < want[0] || (kernel[0] == want[0] && kernel[1] < want[1]) {
			return false, nil
		}
	}
	return true, nil
}

// dockerProfile is Docker's seccomp profile format.
type dockerProfile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet"`
	Architectures   []specs.Arch             `json:"architectures"`
	ArchMap         []struct {
		Arch      specs.Arch   `json:"architecture"`
		SubArches []specs.Arch `json:"subArchitectures"`
	} `json:"archMap"`
	Syscalls []struct {
		Name     string                   `json:"name"`
		Names    []string                 `json:"names"`
		Action   specs.LinuxSeccompAction `json:"action"`
		ErrnoRet *uint                    `json:"errnoRet"`
		Args     []specs.LinuxSeccompArg  `json:"args"`
		Includes *dockerFilter            `json:"includes"`
		Excludes *dockerFilter            `json:"excludes"`
	} `json:"syscalls"`
}

type dockerFilter struct {
	Caps      []string `json:"caps"`
	Arches    []string `json:"arches"`
	MinKernel string   `json:"minKernel"`
}

// seccompArchToGo maps the architecture names of Docker's profiles, which are
// libseccomp's, to GOARCH values.
var seccompArchToGo = map[string]string{
	"x86": "386", "amd64": "amd64", "arm": "arm", "arm64": "arm64", "ppc64le": "ppc64le",
	"s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64", "mipsel64": "mips64le",
}

var specArchToGo = map[specs.Arch]string{
	specs.ArchX86_64: "amd64", specs.ArchX86: "386", specs.ArchAARCH64: "arm64", specs.ArchARM: "arm",
	specs.ArchPPC64LE: "ppc64le", specs.ArchS390X: "s390x", specs.ArchRISCV64: "riscv64",
	specs.ArchMIPS64: "mips64", specs.ArchMIPSEL64: "mips64le",
}

func parseDockerProfile(data []byte) (*profile, error) {
	var d dockerProfile
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "decoding seccomp profile failed: %v", err)
	}
	if len(d.Architectures) > 0 && len(d.ArchMap) > 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'")
	}
	p := &profile{defaultAction: d.DefaultAction, arches: map[string][]specs.Arch{}}
	if d.DefaultErrnoRet != nil {
		p.defaultErrno = *d.DefaultErrnoRet
	}
	if len(d.Architectures) > 0 {
		// A plain list applies as it is, whatever the machine.
		p.arches[goruntime.GOARCH] = d.Architectures
	}
	for _, a := range d.ArchMap {
		if g, ok := specArchToGo[a.Arch]; ok {
			p.arches[g] = append([]specs.Arch{a.Arch}, a.SubArches...)
		}
	}
	for i, s := range d.Syscalls {
		names := s.Names
		if s.Name != "" {
			if len(names) > 0 {
				return nil, errdefs.Newf(errdefs.ErrInvalid, "seccomp profile syscalls[%d]: both 'name' and 'names' are specified", i)
			}
			names = []string{s.Name}
		}
		r := rule{names: names, action: s.Action, args: s.Args}
		if s.ErrnoRet != nil {
			r.errno = *s.ErrnoRet
		}
		if f := s.Includes; f != nil {
			r.caps, r.arches, r.minKernel = f.Caps, goArches(f.Arches), f.MinKernel
			if len(f.Arches) > 0 && len(r.arches) == 0 {
				continue // only for architectures Go does not run on
			}
		}
		if f := s.Excludes; f != nil {
			r.notCaps, r.notArches = f.Caps, goArches(f.Arches)
			if f.MinKernel != "" {
				// Excluded from this kernel on: keep the rule only on older kernels.
				want, err := parseKernel(f.MinKernel)
				if err != nil {
					return nil, err
				}
				if k := kernelVersion(); k[0] > want[0] || (k[0] == want[0] && k[1] >= want[1]) {
					continue
				}
			}
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

func goArches(names []string) []string {
	var out []string
	for _, n := range names {
		if g, ok := seccompArchToGo[n]; ok {
			out = append(out, g)
		}
	}
	return out
}

func parseKernel(s string) ([2]int, error) {
	major, rest, _ := strings.Cut(s, ".")
	minor := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = rest[:i]
	}
	a, err1 := strconv.Atoi(major)
	b, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return [2]int{}, errdefs.Newf(errdefs.ErrInvalid, "invalid kernel version %q in seccomp profile", s)
	}
	return [2]int{a, b}, nil
}

// kernelVersion is the running kernel's major and minor version.
func kernelVersion() [2]int {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return [2]int{}
	}
	v, err := parseKernel(unix.ByteSliceToString(u.Release[:]))
	if err != nil {
		return [2]int{}
	}
	return v
}
