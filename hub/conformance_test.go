package hub_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// conformanceVersion is the distribution-spec conformance program the
// test builds; BERTH_CONFORMANCE_VERSION overrides it (e.g. "latest").
const conformanceVersion = "v0.0.0-20260831232431-97274622c111"

// TestConformance runs the OCI distribution-spec conformance program (the
// pinned version, fetched through the Go module proxy) with every API and
// data workflow on against `berth hub serve --open`, and requires 0
// failures. BERTH_CONFORMANCE_BIN may name a binary built beforehand.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the conformance suite builds a program and pushes ~900 requests")
	}
	bin := os.Getenv("BERTH_CONFORMANCE_BIN")
	if bin == "" {
		gobin := t.TempDir()
		version := os.Getenv("BERTH_CONFORMANCE_VERSION")
		if version == "" {
			// Pinned, so that CI does not change with what the module
			// proxy serves as latest on the day (941 checks at this one).
			version = conformanceVersion
		}
		cmd := exec.Command("go", "install", "github.com/opencontainers/distribution-spec/conformance@"+version)
		cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the conformance suite (needs the Go module proxy): %v\n%s", err, out)
		}
		bin = filepath.Join(gobin, "conformance")
	}
	hub := startHub(t, t.TempDir(), "--open", "--no-seed")
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+hub.Addr, "OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1", "OCI_REPO2=conformance/repo2",
		"OCI_RESULTS_DIR="+results, "OCI_VERSION=1.1",
		// Every API workflow on: pull, push, content discovery (tags list,
		// referrers), content management (tag, manifest, blob delete).
		"OCI_API_PULL=true", "OCI_API_PUSH=true", "OCI_API_TAGS_LIST=true", "OCI_API_REFERRER=true",
		"OCI_API_TAGS_DELETE=true", "OCI_API_MANIFESTS_DELETE=true", "OCI_API_BLOBS_DELETE=true",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true", "OCI_API_MANIFESTS_TAG_PARAM=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true", "OCI_API_MANIFESTS_DIGEST_HEADER=true",
		"OCI_API_BLOBS_MOUNT_ANONYMOUS=true",
		"OCI_API_BLOBS_ATOMIC=true", "OCI_API_MANIFESTS_ATOMIC=true", "OCI_API_TAGS_ATOMIC=true",
		"OCI_DATA_IMAGE=true", "OCI_DATA_INDEX=true", "OCI_DATA_INDEX_LIST=true",
		"OCI_DATA_ARTIFACT=true", "OCI_DATA_SUBJECT=true", "OCI_DATA_SUBJECT_MISSING=true",
		"OCI_DATA_ARTIFACT_LIST=true", "OCI_DATA_SUBJECT_LIST=true", "OCI_DATA_DATA_FIELD=true",
		"OCI_DATA_NONDISTRIBUTABLE=true", "OCI_DATA_CUSTOM_FIELDS=true", "OCI_DATA_NO_LAYERS=true",
		"OCI_DATA_EMPTY_BLOB=true", "OCI_DATA_SHA512=true",
	)
	out, err := cmd.CombinedOutput()
	text := string(out)
	pass := len(regexp.MustCompile(`(?m): Pass$`).FindAllString(text, -1))
	fail := len(regexp.MustCompile(`(?m): (Fail|Error)$`).FindAllString(text, -1))
	skip := len(regexp.MustCompile(`(?m): Skip$`).FindAllString(text, -1))
	t.Logf("OCI conformance: %d passed, %d failed, %d skipped", pass, fail, skip)
	if err != nil || fail > 0 || pass == 0 || !strings.Contains(text, "OCI Conformance Test: Pass") {
		t.Fatalf("conformance suite failed (%v):\n%s\nhub log:\n%s", err, lastLines(text, 150), lastLines(hub.Log(), 50))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
