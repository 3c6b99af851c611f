// Package config is berth's client configuration file: the credentials
// `berth login` stores, in the `auths` shape of Docker's config.json, and the
// registries to reach without TLS verification.
//
//	{
//	  "auths": {"localhost:5000": {"auth": "base64(user:password)"}},
//	  "insecure-registries": ["registry.lan:5000", "10.0.0.0/8"]
//	}
//
// The file lives at $BERTH_CONFIG, else ~/.berth/config.json. It is written
// with mode 0600, atomically (temp file, fsync, rename), and keys berth does
// not know are kept as they were. Secrets never go into an error message.
package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// File is the configuration as read from disk.
type File struct {
	path  string
	auths map[string]AuthEntry
	// Insecure lists registries (host, host:port or CIDR) reached over
	// HTTPS without verification, or plain HTTP when they do not speak TLS.
	Insecure []string
	// other keeps the top-level keys berth does not use, to write them back.
	other map[string]json.RawMessage
}

// AuthEntry is one registry's entry under "auths". Only Auth is written by
// berth; the others are read because Docker writes them.
type AuthEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// DefaultPath is $BERTH_CONFIG, else ~/.berth/config.json.
func DefaultPath() string {
	if p := os.Getenv("BERTH_CONFIG"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/root"
	}
	return filepath.Join(home, ".berth", "config.json")
}

// Load reads the file at path; a missing file is an empty configuration.
func Load(path string) (*File, error) {
	f := &File{path: path, auths: map[string]AuthEntry{}, other: map[string]json.RawMessage{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(raw, &f.other); err != nil {
		return nil, fmt.Errorf("the configuration file %s is not valid JSON: %v: %w", path, err, errdefs.ErrInvalid)
	}
	if a, ok := f.other["auths"]; ok {
		if err := json.Unmarshal(a, &f.auths); err != nil {
			return nil, fmt.Errorf("the configuration file %s: \"auths\": %v: %w", path, err, errdefs.ErrInvalid)
		}
		if f.auths == nil {
			f.auths = map[string]AuthEntry{}
		}
		delete(f.other, "auths")
	}
	if a, ok := f.other["insecure-registries"]; ok {
		if err := json.Unmarshal(a, &f.Insecure); err != nil {
			return nil, fmt.Errorf("the configuration file %s: \"insecure-registries\": %v: %w", path, err, errdefs.ErrInvalid)
		}
		delete(f.other, "insecure-registries")
	}
	return f, nil
}

// Path is where the file lives.
func (f *File) Path() string { return f.path }

// Credentials returns the user name and password stored for a registry.
// It implements the registry client's credential lookup.
func (f *File) Credentials(host string) (user, password string, ok bool) {
	e, found := f.lookup(host)
	if !found {
		return "", "", false
	}
	if e.Auth != "" {
		dec, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return "", "", false
		}
		u, p, ok := strings.Cut(string(dec), ":")
		if !ok {
			return "", "", false
		}
		return u, p, true
	}
	if e.Username != "" {
		return e.Username, e.Password, true
	}
	return "", "", false
}

// lookup finds a registry's entry, also under the URL forms Docker writes
// ("https://host/", "http://host/v2/").
func (f *File) lookup(host string) (AuthEntry, bool) {
	if e, ok := f.auths[host]; ok {
		return e, true
	}
	keys := make([]string, 0, len(f.auths))
	for k := range f.auths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if NormalizeHost(k) == host {
			return f.auths[k], true
		}
	}
	return AuthEntry{}, false
}

// NormalizeHost turns a registry as people write it ("http://host:5000/v2/")
// into host[:port].
func NormalizeHost(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"https://", "http://"} {
		s = strings.TrimPrefix(s, p)
	}
	h, _, _ := strings.Cut(s, "/")
	return strings.ToLower(h)
}

// SetCredentials stores a login for host (in memory; Save writes it).
func (f *File) SetCredentials(host, user, password string) {
	f.removeAll(host)
	f.auths[host] = AuthEntry{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
}

// RemoveCredentials forgets host's login and reports whether there was one.
func (f *File) RemoveCredentials(host string) bool {
	return f.removeAll(host)
}

func (f *File) removeAll(host string) bool {
	found := false
	for k := range f.auths {
		if k == host || NormalizeHost(k) == host {
			delete(f.auths, k)
			found = true
		}
	}
	return found
}

// Save writes the file atomically with mode 0600, creating its directory
// (mode 0700) if needed.
func (f *File) Save() error {
	out := make(map[string]any, len(f.other)+2)
	for k, v := range f.other {
		out[k] = v
	}
	out["auths"] = f.auths
	if len(f.Insecure) > 0 {
		out["insecure-registries"] = f.Insecure
	}
	raw, err := json.MarshalIndent(out, "", "\t")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	// A symlinked config (dotfiles managers do this) is written through.
	target := f.path
	if resolved, err := filepath.EvalSymlinks(f.path); err == nil {
		target = resolved
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving the configuration: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return fmt.Errorf("saving the configuration: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the configuration: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the configuration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("saving the configuration: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
