package image

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// ApplyChanges applies Dockerfile instructions to a config, as `docker
// import --change` and `docker commit --change` do. Only the instructions
// that change the config are allowed.
func ApplyChanges(c *ContainerConfig, changes []string) error {
	cmdSet := false
	for _, change := range changes {
		change = strings.TrimSpace(change)
		if change == "" {
			continue
		}
		word, rest, _ := strings.Cut(change, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "CMD":
			c.Cmd = commandForm(rest)
			cmdSet = true
		case "ENTRYPOINT":
			c.Entrypoint = commandForm(rest)
			if !cmdSet {
				c.Cmd = nil // as the builder does: a new entrypoint drops an inherited CMD
			}
		case "ENV":
			kvs, err := keyValues(rest, "ENV")
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				c.Env = setEnv(c.Env, kv[0], kv[1])
			}
		case "LABEL":
			kvs, err := keyValues(rest, "LABEL")
			if err != nil {
				return err
			}
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				c.Labels[kv[0]] = kv[1]
			}
		case "EXPOSE":
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(rest) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				c.ExposedPorts[strings.ToLower(p)] = struct{}{}
			}
		case "VOLUME":
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			var vols []string
			if err := json.Unmarshal([]byte(rest), &vols); err != nil {
				vols = strings.Fields(rest)
			}
			for _, v := range vols {
				c.Volumes[v] = struct{}{}
			}
		case "WORKDIR":
			c.WorkingDir = rest
		case "USER":
			c.User = rest
		case "STOPSIGNAL":
			c.StopSignal = rest
		case "ONBUILD":
			c.OnBuild = append(c.OnBuild, rest)
		default:
			return fmt.Errorf("%s is not a valid change command: %w", word, errdefs.ErrInvalid)
		}
	}
	return nil
}

// commandForm reads the JSON (exec) form, else the shell form.
func commandForm(s string) StrSlice {
	var list []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &list) == nil {
		return list
	}
	return StrSlice{"/bin/sh", "-c", s}
}

// keyValues parses "k=v k2=v2" or the legacy "k v" form.
func keyValues(s, what string) ([][2]string, error) {
	if s == "" {
		return nil, fmt.Errorf("%s requires at least one argument: %w", what, errdefs.ErrInvalid)
	}
	words := splitWords(s)
	if !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %q is not key=value: %w", what, w, errdefs.ErrInvalid)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits on spaces outside double quotes and drops the quotes.
func splitWords(s string) []string {
	var words []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
