package build

import (
	"os"
	"sort"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

// stage is a stage being built: its image so far and what expansion sees.
type stage struct {
	name   string
	cfg    image.Config
	layers []engine.BuildLayer
	// args are the build args the stage declared, with their values; an
	// ENV of the same name wins over them, as in Docker.
	args    map[string]string
	argKeys []string
	// key is the cache key of the stage's last step.
	key digest.Digest
	// cmdSet says the stage set its own CMD, which ENTRYPOINT keeps.
	cmdSet bool
}

// addLayer puts a layer a step made on top of the stage.
func (s *stage) addLayer(l engine.BuildLayer, createdBy string, at time.Time) {
	s.layers = append(s.layers, l)
	s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, l.DiffID)
	s.history(createdBy, true, at)
}

// cc is the stage's runtime config, made when missing.
func (s *stage) cc() *image.ContainerConfig {
	if s.cfg.Config == nil {
		s.cfg.Config = &image.ContainerConfig{}
	}
	return s.cfg.Config
}

// chainIDs are the stage's layers by chain ID, lowest first.
func (s *stage) chainIDs() []digest.Digest {
	out := make([]digest.Digest, len(s.layers))
	for i, l := range s.layers {
		out[i] = l.ChainID
	}
	return out
}

// top is the chain ID of the stage's top layer, "" for none.
func (s *stage) top() digest.Digest {
	if len(s.layers) == 0 {
		return ""
	}
	return s.layers[len(s.layers)-1].ChainID
}

// env is what ${VAR} sees in the stage: its declared args, then its ENV.
func (s *stage) env() shell.EnvGetter {
	var kv []string
	for _, k := range s.argKeys {
		kv = append(kv, k+"="+s.args[k])
	}
	kv = append(kv, s.cc().Env...)
	return shell.EnvsFromSlice(kv)
}

// runEnv is the environment RUN adds to the config's: the declared args
// no ENV overrides.
func (s *stage) runEnv() []string {
	var out []string
	for _, k := range s.argKeys {
		if _, set := lookupEnv(s.cc().Env, k); !set {
			out = append(out, k+"="+s.args[k])
		}
	}
	return out
}

// declare records an ARG with its value.
func (s *stage) declare(k, v string) {
	if _, ok := s.args[k]; !ok {
		s.argKeys = append(s.argKeys, k)
	}
	s.args[k] = v
}

// argsKey is the declared args as the cache key takes them.
func (s *stage) argsKey() string {
	keys := append([]string(nil), s.argKeys...)
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + s.args[k] + "\x00")
	}
	return b.String()
}

// history adds a row for a step; layer says whether it made one.
func (s *stage) history(createdBy string, layer bool, at time.Time) {
	s.cfg.History = append(s.cfg.History, image.History{Created: &at, CreatedBy: createdBy,
		Comment: historyComment, EmptyLayer: !layer})
}

// historyComment marks berth's rows as BuildKit marks its own.
const historyComment = "berth.containerfile.v0"

func lookupEnv(env []string, k string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if name, v, _ := strings.Cut(env[i], "="); name == k {
			return v, true
		}
	}
	return "", false
}

// setEnv sets k in env, in place of an earlier value.
func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// predefinedArgs are the args every stage may use without declaring a
// value (the proxy variables), from the environment unless given.
var predefinedArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// buildArg is the value --build-arg gives k, if it gives one.
func buildArg(o Options, k string) (string, bool) {
	v, ok := o.BuildArgs[k]
	if !ok {
		return "", false
	}
	if v == nil {
		return os.LookupEnv(k)
	}
	return *v, true
}
