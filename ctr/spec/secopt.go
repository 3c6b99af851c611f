package spec

import (
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/errdefs"
)

// Security is what --security-opt asked for.
type Security struct {
	NoNewPrivileges bool
	// Seccomp is "" for Docker's default profile, "unconfined", or the
	// content of a profile file in Docker's format.
	Seccomp string
}

// ParseSecurityOpts reads --security-opt values as Docker does:
// no-new-privileges[:true|false|=true|=false], seccomp=unconfined|FILE
// (or seccomp:...). A profile file is read now, as the docker CLI does, so
// the container keeps working if the file goes away.
func ParseSecurityOpts(opts []string) (Security, error) {
	var s Security
	for i, opt := range opts {
		if opt == "no-new-privileges" {
			s.NoNewPrivileges = true
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return s, invalidSecOpt(i, opt)
		}
		switch k {
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, invalidSecOpt(i, opt)
			}
			s.NoNewPrivileges = b
		case "seccomp":
			if v == "unconfined" {
				s.Seccomp = v
				continue
			}
			data, err := os.ReadFile(v)
			if err != nil {
				return s, errdefs.Newf(errdefs.ErrInvalid, "opening seccomp profile (%s) failed: %v", v, err)
			}
			s.Seccomp = string(data)
		case "apparmor", "label", "systempaths":
			return s, errdefs.Newf(errdefs.ErrUnsupported, "--security-opt %s is not supported", k)
		default:
			return s, invalidSecOpt(i, opt)
		}
	}
	return s, nil
}

func invalidSecOpt(i int, opt string) error {
	return errdefs.Newf(errdefs.ErrInvalid, "invalid --security-opt %d: %q", i+1, opt)
}

// SeccompFilter is the filter s selects for a process with Docker's default
// capabilities; nil means unconfined.
func (s Security) SeccompFilter() (*specs.LinuxSeccomp, error) {
	switch s.Seccomp {
	case "":
		return DefaultSeccomp(DefaultCapabilities())
	case "unconfined":
		return nil, nil
	default:
		return ParseSeccompProfile([]byte(s.Seccomp), DefaultCapabilities())
	}
}
