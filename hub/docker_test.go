package hub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub/seed"
	"github.com/berth-dev/berth/internal/dockertest"
	"github.com/berth-dev/berth/internal/hubtest"
)

// TestDockerInterop drives the hub with the real docker CLI and dockerd:
// search, login, push, pull, refusals, and the seeded welcome image.
func TestDockerInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: starts a real dockerd")
	}
	d := dockertest.Shared(t)
	// The welcome image gets the real static berth, as `make run` seeds it.
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true, SeedExecutable: berthBinary(t)})
	h.AddUser(t, "alice", "alice-pw")
	h.AddUser(t, "bob", "bob-pw")
	h.AddUser(t, "carol", "carol-pw")
	h.SetRepo(t, "bob/secret", hubtest.Repo{Private: hubtest.Ptr(true), Description: hubtest.Ptr("bob's welcome notes")})
	h.PushRandom(t, "bob/secret:v1", 1, 100)
	host := h.Host
	t.Cleanup(func() { _, _ = d.Try("logout", host) })

	t.Run("search shows the official welcome image", func(t *testing.T) {
		out := d.Docker(t, "search", host+"/welcome")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 2 || !strings.Contains(lines[0], "OFFICIAL") {
			t.Fatalf("docker search output:\n%s", out)
		}
		f := strings.Fields(lines[1])
		if f[0] != "welcome" || !strings.Contains(lines[1], "[OK]") || !strings.Contains(lines[1], "42") {
			t.Fatalf("welcome not listed as official with its stars:\n%s", out)
		}
		if strings.Contains(out, "secret") {
			t.Fatalf("anonymous search shows a private repository:\n%s", out)
		}
	})

	t.Run("pull welcome by short and library name", func(t *testing.T) {
		d.Docker(t, "pull", host+"/welcome")
		d.Docker(t, "pull", host+"/library/welcome:latest")
		a := d.Docker(t, "image", "inspect", "-f", "{{.Id}}", host+"/welcome")
		b := d.Docker(t, "image", "inspect", "-f", "{{.Id}}", host+"/library/welcome")
		if a != b {
			t.Fatalf("welcome and library/welcome differ: %s vs %s", a, b)
		}
		hist := d.Docker(t, "history", "--no-trunc", host+"/welcome")
		if !strings.Contains(hist, "COPY welcome /usr/local/bin/ # berth") {
			t.Fatalf("history lacks the layer steps:\n%s", hist)
		}
		// The busybox layer makes a shell.
		if out := d.Docker(t, "run", "--rm", "--network", "none", host+"/welcome", "/bin/sh", "-c", "echo hello from $(busybox | head -1 | cut -d' ' -f1)"); !strings.Contains(out, "hello from BusyBox") {
			t.Fatalf("no shell in the welcome image: %q", out)
		}
		// Its command serves the welcome page on port 80.
		page := d.Docker(t, "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", host+"/welcome", "-c",
			"/usr/local/bin/welcome & for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:80/ && exit 0; sleep 0.5; done; exit 1")
		if !strings.Contains(page, "Welcome to berth") {
			t.Fatalf("the welcome page: %q", page)
		}
		cmd := d.Docker(t, "image", "inspect", "-f", "{{json .Config.Cmd}} {{json .Config.ExposedPorts}}", host+"/welcome")
		if !strings.Contains(cmd, `["/usr/local/bin/welcome"]`) || !strings.Contains(cmd, `"80/tcp"`) {
			t.Fatalf("welcome config: %s", cmd)
		}
	})

	tarball, err := seed.TarLayer([]seed.File{{Name: "hello.txt", Data: []byte("hello " + time.Now().String())}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d.DockerIn(t, tarball, "import", "-", host+"/alice/app:v1")
	d.Docker(t, "tag", host+"/alice/app:v1", host+"/bob/app:v1")
	d.Docker(t, "tag", host+"/alice/app:v1", host+"/alice/app:anon")

	t.Run("anonymous push is refused", func(t *testing.T) {
		out, err := d.Try("push", host+"/alice/app:anon")
		if err == nil || !strings.Contains(err.Error(), "denied") {
			t.Fatalf("anonymous push: %v\n%s", err, out)
		}
	})

	t.Run("login with a wrong password fails", func(t *testing.T) {
		_, err := d.Try("login", "-u", "alice", "-p", "wrong", host)
		if err == nil || !strings.Contains(err.Error(), "unauthorized") && !strings.Contains(err.Error(), "incorrect") {
			t.Fatalf("login with a wrong password: %v", err)
		}
	})

	t.Run("login, push, pull", func(t *testing.T) {
		out := d.DockerIn(t, []byte("alice-pw\n"), "login", "-u", "alice", "--password-stdin", host)
		if !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("login: %s", out)
		}
		d.Docker(t, "push", host+"/alice/app:v1")
		id := d.Docker(t, "image", "inspect", "-f", "{{.Id}}", host+"/alice/app:v1")
		d.Docker(t, "rmi", host+"/alice/app:v1", host+"/alice/app:anon")
		d.Docker(t, "pull", host+"/alice/app:v1")
		if again := d.Docker(t, "image", "inspect", "-f", "{{.Id}}", host+"/alice/app:v1"); again != id {
			t.Fatalf("pulled image %s, pushed %s", again, id)
		}
	})

	t.Run("push to another namespace is refused", func(t *testing.T) {
		out, err := d.Try("push", host+"/bob/app:v1")
		if err == nil || !strings.Contains(err.Error(), "denied") {
			t.Fatalf("push to bob's namespace as alice: %v\n%s", err, out)
		}
	})

	t.Run("private repositories in search follow the login", func(t *testing.T) {
		if out := d.Docker(t, "search", host+"/secret"); strings.Contains(out, "bob/secret") {
			t.Fatalf("alice sees bob's private repository:\n%s", out)
		}
		d.DockerIn(t, []byte("bob-pw\n"), "login", "-u", "bob", "--password-stdin", host)
		if out := d.Docker(t, "search", host+"/secret"); !strings.Contains(out, "bob/secret") {
			t.Fatalf("bob does not see his private repository:\n%s", out)
		}
		d.Docker(t, "pull", host+"/bob/secret:v1")
		d.Docker(t, "logout", host)
		if _, err := d.Try("pull", host+"/bob/secret:v1"); err == nil {
			d.Docker(t, "rmi", host+"/bob/secret:v1")
			t.Fatal("anonymous pull of a private repository succeeded")
		}
	})

	// Last: its failures count against 127.0.0.1, every client here.
	t.Run("login after too many wrong passwords prints the wait", func(t *testing.T) {
		const want = "too many failed sign-in attempts for carol; try again in "
		var err error
		for i := range 6 {
			if _, err = d.Try("login", "-u", "carol", "-p", "wrong", host); err == nil {
				t.Fatal("login with a wrong password succeeded")
			}
			if strings.Contains(err.Error(), want) {
				if i < 5 {
					t.Fatalf("throttled after %d wrong passwords, want 5: %v", i, err)
				}
				break
			}
		}
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the sixth login does not print the throttle message: %v", err)
		}
		t.Logf("docker login says: %v", err)
		if _, err := d.Try("login", "-u", "carol", "-p", "carol-pw", host); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("the right password during the back-off: %v", err)
		}
	})
}
