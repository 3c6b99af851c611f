package image

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"

	"github.com/berth-dev/berth/errdefs"
)

// Config is an image config as Docker writes it: the OCI image config plus
// Docker's extra fields. An image's ID is the digest of the config's bytes as
// they were received, so a Config is parsed for reading and never re-encoded
// to compute an ID.
type Config struct {
	Created         *time.Time       `json:"created,omitempty"`
	Author          string           `json:"author,omitempty"`
	Architecture    string           `json:"architecture"`
	Variant         string           `json:"variant,omitempty"`
	OS              string           `json:"os"`
	OSVersion       string           `json:"os.version,omitempty"`
	OSFeatures      []string         `json:"os.features,omitempty"`
	Config          *ContainerConfig `json:"config,omitempty"`
	Container       string           `json:"container,omitempty"`
	ContainerConfig *ContainerConfig `json:"container_config,omitempty"`
	DockerVersion   string           `json:"docker_version,omitempty"`
	Comment         string           `json:"comment,omitempty"`
	Parent          string           `json:"parent,omitempty"`
	RootFS          RootFS           `json:"rootfs"`
	History         []History        `json:"history,omitempty"`
}

// RootFS lists the image's layers by diffID, lowest first.
type RootFS struct {
	Type    string          `json:"type"`
	DiffIDs []digest.Digest `json:"diff_ids"`
}

// History is one step that built the image. EmptyLayer steps made no layer.
type History struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Author     string     `json:"author,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
}

// ContainerConfig is the runtime config of an image, field for field and in
// the key order of Docker's container.Config, so `image inspect` shows it as
// Docker does. OCI configs use the same keys for the fields they share.
type ContainerConfig struct {
	Hostname        string
	Domainname      string
	User            string
	AttachStdin     bool
	AttachStdout    bool
	AttachStderr    bool
	ExposedPorts    map[string]struct{} `json:",omitempty"`
	Tty             bool
	OpenStdin       bool
	StdinOnce       bool
	Env             []string
	Cmd             StrSlice
	Healthcheck     *HealthConfig `json:",omitempty"`
	ArgsEscaped     bool          `json:",omitempty"`
	Image           string
	Volumes         map[string]struct{}
	WorkingDir      string
	Entrypoint      StrSlice
	NetworkDisabled bool   `json:",omitempty"`
	MacAddress      string `json:",omitempty"`
	OnBuild         []string
	Labels          map[string]string
	StopSignal      string   `json:",omitempty"`
	StopTimeout     *int     `json:",omitempty"`
	Shell           StrSlice `json:",omitempty"`
}

// HealthConfig is Docker's HEALTHCHECK.
type HealthConfig struct {
	Test        []string      `json:",omitempty"`
	Interval    time.Duration `json:",omitempty"`
	Timeout     time.Duration `json:",omitempty"`
	StartPeriod time.Duration `json:",omitempty"`
	Retries     int           `json:",omitempty"`
}

// StrSlice is a command: Docker accepts a JSON string as a one-element list.
type StrSlice []string

// UnmarshalJSON accepts a string or a list of strings.
func (s *StrSlice) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*s = list
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*s = []string{one}
	return nil
}

// ParseConfig parses an image config and checks what berth relies on.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("image config is not valid: %v: %w", err, errdefs.ErrInvalid)
	}
	if c.RootFS.Type != "" && c.RootFS.Type != "layers" {
		return nil, fmt.Errorf("image config rootfs type %q: %w", c.RootFS.Type, errdefs.ErrUnsupported)
	}
	for i, d := range c.RootFS.DiffIDs {
		if _, err := ParseDigest(d.String()); err != nil {
			return nil, fmt.Errorf("image config diff_ids[%d]: %w", i, err)
		}
	}
	return &c, nil
}

// ChainIDs returns the chain ID of each layer: the identity of the layer
// together with every layer under it, which names an unpacked layer directory.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	copy(out, diffIDs)
	return identity.ChainIDs(out)
}

// LayerHistory pairs each history step with the index of the layer it made
// (-1 for empty steps), walking both lists as Docker does.
func (c *Config) LayerHistory() []int {
	idx := make([]int, len(c.History))
	layer := 0
	for i, h := range c.History {
		if h.EmptyLayer || layer >= len(c.RootFS.DiffIDs) {
			idx[i] = -1
			continue
		}
		idx[i] = layer
		layer++
	}
	return idx
}
