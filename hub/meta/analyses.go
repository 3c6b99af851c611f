package meta

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// Analysis states. A manifest without an Analysis is pending.
const (
	AnalysisDone    = "done"
	AnalysisFailed  = "failed"
	AnalysisSkipped = "skipped" // not an image: an index, an artifact
)

// Analysis is what the hub's background analysis found in one image
// manifest: its inventory and its vulnerability summary, as JSON documents
// the hub writes and reads back. It is kept per digest, so repositories
// holding the same manifest share it, and it goes when the last of them
// deletes the manifest.
type Analysis struct {
	Digest          digest.Digest
	Status          string
	Error           string
	Inventory       []byte
	Vulnerabilities []byte
	Analysed        time.Time
}

// Analyses keeps the results of image analysis.
type Analyses interface {
	// PutAnalysis records an analysis, replacing an earlier one. It fails
	// with ErrNotFound when no repository holds the manifest any more (it
	// was deleted while it was being analysed).
	PutAnalysis(ctx context.Context, a Analysis) error
	// Analysis returns a manifest's analysis or ErrNotFound.
	Analysis(ctx context.Context, d digest.Digest) (Analysis, error)
	// Unanalysed lists up to n manifests that have no analysis and that a
	// tag names, directly or as a child of a tagged index, oldest push
	// first: the work a restarted hub takes up again. A manifest held by
	// several repositories may be listed once for each.
	Unanalysed(ctx context.Context, n int) ([]Manifest, error)
}
