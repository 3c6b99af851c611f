package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two --no-cache builds of one context in two fresh stores, with
// SOURCE_DATE_EPOCH, give the same image ID: created times and mtimes are
// clamped and tar entries come in a fixed order.
func TestBuildReproducible(t *testing.T) {
	dir := multiStageContext(t)
	epoch := time.Unix(1700000000, 0).UTC()
	var ids []string
	for range 2 {
		e := newEngine(t)
		res, _ := build(t, e, Options{ContextDir: dir, NoCache: true, SourceDateEpoch: &epoch})
		ids = append(ids, res.ID)
		time.Sleep(1100 * time.Millisecond) // a clock that shows through would differ
	}
	if ids[0] != ids[1] {
		t.Errorf("two builds gave %s and %s", ids[0], ids[1])
	}
}

// A secret mounted into a RUN step is readable there and is in no layer,
// nor is its mount point.
func TestRunSecretStaysOut(t *testing.T) {
	e := newEngine(t)
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := writeContext(t, map[string]string{"Containerfile": "FROM box\n" +
		"RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /len\n"})
	build(t, e, Options{ContextDir: dir, Tags: []string{"img"}, Secrets: map[string]string{"token": secret}})
	if got := strings.Join(topLayerEntries(t, e, "img"), " "); got != "len" {
		t.Errorf("layer holds %q, want only len", got)
	}
	if out := runImage(t, e, "img", "cat", "/len"); strings.TrimSpace(out) != "6" {
		t.Errorf("the step read %q bytes of the secret", out)
	}
}
