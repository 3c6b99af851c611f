// Package hubtest starts an in-process berth hub for tests: a real hub.Hub
// on temporary directories behind an httptest.Server, with auth on or off,
// and helpers to add accounts, describe repositories and push images.
//
//	h := hubtest.New(t, hubtest.Options{Auth: true})
//	h.AddUser(t, "alice", "secret")
//	img := h.PushRandom(t, "alice/app:v1", 2, 1024) // two random 1 KiB layers
//	ref := h.Host + "/alice/app:v1"                 // what a client pulls
//
// Everything is removed when the test ends.
package hubtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub"
	"github.com/berth-dev/berth/hub/meta"
	"github.com/berth-dev/berth/hub/seed"
	"github.com/berth-dev/berth/image"
)

// Options configure a test hub. The zero value is an open hub (anyone may
// push, no login) without the welcome image.
type Options struct {
	// Auth turns on Docker token authentication: anonymous pull of public
	// repositories only, push to your own namespace after login.
	Auth bool
	// Seed puts the welcome image in (library/welcome:latest, official,
	// 42 stars). Its "executable" layer is a small file unless
	// SeedExecutable names a real one; its busybox layer comes from
	// /bin/busybox when that exists.
	Seed           bool
	SeedExecutable string
	// TokenTTL overrides the access token lifetime (default 5 minutes).
	TokenTTL time.Duration
	// Logger receives the hub's logs (default: discarded).
	Logger *slog.Logger
}

// Hub is a running test hub.
type Hub struct {
	*httptest.Server
	Hub  *hub.Hub
	Root string // the hub's data directory
	// Host is "127.0.0.1:PORT", the registry part of image references.
	Host string
}

// New starts a hub; it stops when the test ends.
func New(t testing.TB, o Options) *Hub {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String()
	root := t.TempDir()
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := hub.Config{
		Root: root, PublicURL: "http://" + host, Open: !o.Auth, Logger: logger,
		TokenTTL: o.TokenTTL, GCInterval: -1,
	}
	if o.Seed {
		exe := o.SeedExecutable
		if exe == "" {
			exe = writeFile(t, root+"-welcome", "#!/bin/sh\necho welcome\n")
		}
		cfg.Seed = &hub.SeedConfig{Executable: exe, Busybox: "/bin/busybox"}
	}
	h, err := hub.New(context.Background(), cfg)
	if err != nil {
		srv.Close()
		t.Fatalf("hubtest: %v", err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	<-h.Seeded()
	return &Hub{Server: srv, Hub: h, Root: root, Host: host}
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
	return path
}

// AddUser creates an account.
func (h *Hub) AddUser(t testing.TB, name, password string) {
	t.Helper()
	if err := hub.AddUser(context.Background(), h.Hub.Meta(), name, password, false); err != nil {
		t.Fatalf("hubtest: adding user %s: %v", name, err)
	}
}

// AddAdmin creates an operator account, which owns library/.
func (h *Hub) AddAdmin(t testing.TB, name, password string) {
	t.Helper()
	if err := hub.AddUser(context.Background(), h.Hub.Meta(), name, password, true); err != nil {
		t.Fatalf("hubtest: adding admin %s: %v", name, err)
	}
}

// AddOrg creates an organisation with the given members.
func (h *Hub) AddOrg(t testing.TB, org string, members ...string) {
	t.Helper()
	ctx := context.Background()
	if err := hub.AddOrg(ctx, h.Hub.Meta(), org); err != nil {
		t.Fatalf("hubtest: adding org %s: %v", org, err)
	}
	for _, m := range members {
		if err := h.Hub.Meta().AddMember(ctx, org, m); err != nil {
			t.Fatalf("hubtest: adding %s to %s: %v", m, org, err)
		}
	}
}

// Repo describes a repository; nil fields are left as they are.
type Repo struct {
	Badge           *string // "official", "verified_publisher", "open_source", "" for none
	Description     *string
	FullDescription *string
	Private         *bool
	Stars           *int64
}

// Ptr returns a pointer to v, for Repo's fields.
func Ptr[T any](v T) *T { return &v }

// SetRepo changes a repository (creating it if needed); name may be short.
// The hub sees the change at once.
func (h *Hub) SetRepo(t testing.TB, name string, r Repo) {
	t.Helper()
	_, err := h.Hub.UpdateRepo(context.Background(), name, meta.RepoUpdate{
		Badge: r.Badge, Description: r.Description, FullDescription: r.FullDescription, Private: r.Private, Stars: r.Stars,
	})
	if err != nil {
		t.Fatalf("hubtest: %v", err)
	}
}

// PushImage stores a built image (see package seed) as repo:tag, e.g.
// "alice/app:v1" or "welcome:2"; a missing tag is "latest". It goes in
// directly, as an operator would, whatever the hub's auth.
func (h *Hub) PushImage(t testing.TB, ref string, im seed.Image) seed.Image {
	t.Helper()
	repo, tag := splitRef(ref)
	if err := h.Hub.PutImage(context.Background(), repo, im, tag); err != nil {
		t.Fatalf("hubtest: pushing %s: %v", ref, err)
	}
	return im
}

// PushRandom builds an image of n layers, each one file of size random
// bytes, pushes it as ref and returns it.
func (h *Hub) PushRandom(t testing.TB, ref string, n, size int) seed.Image {
	t.Helper()
	return h.PushImage(t, ref, RandomImage(t, n, size))
}

// RandomImage builds an image of n layers with one random file each.
func RandomImage(t testing.TB, n, size int) seed.Image {
	t.Helper()
	var layers []seed.Layer
	for i := range n {
		b := make([]byte, size)
		_, _ = rand.Read(b)
		layers = append(layers, seed.Layer{
			Files:     []seed.File{{Name: fmt.Sprintf("data-%d.bin", i), Data: b}},
			CreatedBy: fmt.Sprintf("COPY data-%d.bin / # buildkit", i),
		})
	}
	im, err := seed.Build(layers, seed.Options{Config: image.ContainerConfig{Cmd: image.StrSlice{"/bin/sh"}}})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func splitRef(ref string) (repo, tag string) {
	repo, tag = ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo, tag = ref[:i], ref[i+1:]
	}
	return repo, tag
}

// Token logs in as user (empty for anonymous) and returns an access token
// for the scopes ("repository:alice/app:pull,push"), as `docker login` and
// a pull would get one.
func (h *Hub) Token(t testing.TB, user, password string, scopes ...string) string {
	t.Helper()
	tok, status := h.TryToken(user, password, scopes...)
	if status != http.StatusOK {
		t.Fatalf("hubtest: token for %q: status %d", user, status)
	}
	return tok
}

// TryToken is Token returning the status instead of failing.
func (h *Hub) TryToken(user, password string, scopes ...string) (string, int) {
	q := url.Values{"service": {h.Host}, "scope": scopes}
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/token?"+q.Encode(), nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Token, resp.StatusCode
}
