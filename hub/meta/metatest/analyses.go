package metatest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/meta"
)

const (
	imageType = "application/vnd.oci.image.manifest.v1+json"
	indexType = "application/vnd.oci.image.index.v1+json"
)

// testAnalyses checks that analyses are kept per digest while a repository
// holds the manifest, and which manifests a restarted hub must analyse.
func testAnalyses(t *testing.T, s meta.Store) {
	ctx := context.Background()
	d := func(s string) digest.Digest { return digest.FromString(s) }
	unanalysed := func() []string {
		t.Helper()
		ms, err := s.Unanalysed(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Repo+"@"+m.Digest.String()[7:11])
		}
		return out
	}
	short := func(repo, name string) string { return repo + "@" + d(name).String()[7:11] }
	put := func(m meta.Manifest, tags ...string) {
		t.Helper()
		if err := s.PutManifest(ctx, m, tags...); err != nil {
			t.Fatal(err)
		}
	}

	// Nothing is held yet: recording an analysis of nothing fails.
	if err := s.PutAnalysis(ctx, meta.Analysis{Digest: d("img"), Status: meta.AnalysisDone}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("analysis of an unknown manifest: %v", err)
	}
	if _, err := s.Analysis(ctx, d("img")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing analysis: %v", err)
	}

	// a/app:v1 an image, a/app:multi an index of two images, a/app's
	// untagged manifest and b/lib's referrer-only manifest are not work.
	t0 := time.Unix(1700000000, 0)
	put(meta.Manifest{Repo: "a/app", Digest: d("img"), MediaType: imageType, Size: 1, Pushed: t0}, "v1")
	put(meta.Manifest{Repo: "a/app", Digest: d("amd64"), MediaType: imageType, Size: 1, Pushed: t0.Add(time.Second)})
	put(meta.Manifest{Repo: "a/app", Digest: d("arm64"), MediaType: imageType, Size: 1, Pushed: t0.Add(2 * time.Second)})
	put(meta.Manifest{Repo: "a/app", Digest: d("idx"), MediaType: indexType, Size: 1, Pushed: t0.Add(3 * time.Second),
		Children: []digest.Digest{d("amd64"), d("arm64")}}, "multi")
	put(meta.Manifest{Repo: "a/app", Digest: d("loose"), MediaType: imageType, Size: 1, Pushed: t0.Add(4 * time.Second)})
	put(meta.Manifest{Repo: "b/lib", Digest: d("img"), MediaType: imageType, Size: 1, Pushed: t0.Add(5 * time.Second)}, "latest")
	want := []string{short("a/app", "img"), short("a/app", "amd64"), short("a/app", "arm64"), short("a/app", "idx"), short("b/lib", "img")}
	if got := unanalysed(); !slices.Equal(got, want) {
		t.Fatalf("Unanalysed = %v, want %v", got, want)
	}
	if ms, err := s.Unanalysed(ctx, 2); err != nil || len(ms) != 2 || ms[0].MediaType != imageType {
		t.Fatalf("Unanalysed(2) = %v, %v", ms, err)
	}

	// One analysis serves every repository holding the digest.
	inv, vul := []byte(`{"packages":[]}`), []byte(`{"total":0}`)
	at := time.Unix(1700001000, 0)
	if err := s.PutAnalysis(ctx, meta.Analysis{Digest: d("img"), Status: meta.AnalysisDone, Inventory: inv, Vulnerabilities: vul, Analysed: at}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"idx", "amd64"} {
		if err := s.PutAnalysis(ctx, meta.Analysis{Digest: d(name), Status: meta.AnalysisSkipped, Error: "an index"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := unanalysed(); !slices.Equal(got, []string{short("a/app", "arm64")}) {
		t.Fatalf("Unanalysed after analyses = %v", got)
	}
	a, err := s.Analysis(ctx, d("img"))
	if err != nil || a.Status != meta.AnalysisDone || !bytes.Equal(a.Inventory, inv) || !bytes.Equal(a.Vulnerabilities, vul) || !a.Analysed.Equal(at) {
		t.Fatalf("Analysis = %+v, %v", a, err)
	}
	// Analysing again replaces.
	if err := s.PutAnalysis(ctx, meta.Analysis{Digest: d("img"), Status: meta.AnalysisFailed, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Analysis(ctx, d("img")); err != nil || a.Status != meta.AnalysisFailed || a.Error != "boom" || a.Inventory != nil || a.Analysed.IsZero() {
		t.Fatalf("replaced Analysis = %+v, %v", a, err)
	}

	// The analysis stays while any repository holds the manifest.
	if err := s.DeleteManifest(ctx, "a/app", d("img")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Analysis(ctx, d("img")); err != nil {
		t.Fatalf("analysis gone while b/lib holds the manifest: %v", err)
	}
	if err := s.DeleteManifest(ctx, "b/lib", d("img")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Analysis(ctx, d("img")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("analysis after the last manifest went: %v", err)
	}
	if err := s.PutAnalysis(ctx, meta.Analysis{Digest: d("img"), Status: meta.AnalysisDone}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("analysis recorded after the manifest went: %v", err)
	}
}
