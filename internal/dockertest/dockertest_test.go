package dockertest

import (
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

func TestDaemonAnswers(t *testing.T) {
	d := Shared(t)
	out := d.Docker(t, "version", "--format", "{{.Server.Os}}")
	if strings.TrimSpace(out) != "linux" {
		t.Fatalf("server os %q", out)
	}
	if _, err := d.Try("image", "inspect", "no-such-image"); err == nil || !strings.Contains(err.Error(), "No such image") {
		t.Fatalf("inspect of a missing image: %v", err)
	}
}
