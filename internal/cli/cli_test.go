package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/dockertest"
)

func TestMain(m *testing.M) {
	// The containers these tests run are supervised by this binary.
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(engine.ShimMain(os.Args[2:]))
	}
	cleanup := setupContainerTests()
	code := m.Run()
	cleanup()
	dockertest.Stop()
	os.Exit(code)
}

// berthCLI runs berth in-process against one store.
type berthCLI struct {
	t    *testing.T
	root string
}

func newBerth(t *testing.T) *berthCLI {
	return &berthCLI{t: t, root: t.TempDir()}
}

// try runs a command and returns stdout, stderr and the exit code.
func (b *berthCLI) try(stdin string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"--root", b.root}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// run runs a command that must succeed and returns its stdout.
func (b *berthCLI) run(args ...string) string {
	b.t.Helper()
	out, errs, code := b.try("", args...)
	if code != 0 {
		b.t.Fatalf("berth %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
