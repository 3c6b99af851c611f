package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/store"
	"github.com/berth-dev/berth/vuln"
)

// ErrNoVulnDB is returned by Vulnerabilities when the vulnerability
// database is missing or holds no advisories: matching against nothing would
// report a clean image that may not be.
var ErrNoVulnDB = errors.New("no vulnerability database")

// ImageInventory is the inventory of one image of the store.
type ImageInventory struct {
	ID   digest.Digest // the image ID (config digest)
	Name string        // the name the image was asked for by
	SBOM *sbom.SBOM
}

// ImageVulnerabilities is what the vulnerability database knows about the
// packages of one image.
type ImageVulnerabilities struct {
	ImageInventory
	Findings []vuln.Finding
	// Warnings are versions that could not be compared; they did not stop
	// the matching.
	Warnings []string
	// DB describes the database matched against (path, last update).
	DB *vuln.Info
}

// VulnDBPath is where the engine's vulnerability database lives.
func (e *Engine) VulnDBPath() string { return vuln.DefaultPath(e.store.Root()) }

// Inventory lists the packages and libraries of the image name refers to,
// reading its unpacked layers in place. progress, if not nil, is called as
// each layer has been read. Damaged files become warnings in the SBOM.
func (e *Engine) Inventory(ctx context.Context, name string, progress func(done, total int)) (*ImageInventory, error) {
	var img store.Image
	err := e.store.View(ctx, func(tx *store.Tx) error {
		r, err := e.resolve(ctx, tx, name)
		if err != nil {
			return err
		}
		img, err = tx.Image(ctx, r.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	layers := make([]sbom.Layer, len(img.Layers))
	for i, l := range img.Layers {
		sl := &storeLayer{e: e, diffID: l.DiffID, chainID: l.ChainID}
		// A layer missing from layers/ (a damaged store) is still read
		// from its blob.
		if e.store.HasLayer(l.ChainID) {
			sl.dir = e.store.LayerDir(l.ChainID)
		}
		layers[i] = sl
	}
	var opts []sbom.Option
	if progress != nil {
		opts = append(opts, sbom.WithProgress(progress))
	}
	s, err := sbom.Inventory(ctx, layers, opts...)
	if err != nil {
		return nil, fmt.Errorf("inventory of %s: %w", name, err)
	}
	return &ImageInventory{ID: img.ID, Name: name, SBOM: s}, nil
}

// Vulnerabilities takes the inventory of the image name refers to and
// matches it against the vulnerability database. It fails with ErrNoVulnDB
// (and ErrNotFound) before reading the image if the database is empty.
func (e *Engine) Vulnerabilities(ctx context.Context, name string, progress func(done, total int)) (*ImageVulnerabilities, error) {
	db, info, err := e.openVulnDB(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	inv, err := e.Inventory(ctx, name, progress)
	if err != nil {
		return nil, err
	}
	return match(ctx, db, info, inv)
}

// MatchInventory matches an inventory already taken (the dashboard shows
// the packages first) against the vulnerability database, so the image's
// layers are not read a second time. It fails with ErrNoVulnDB as
// Vulnerabilities does.
func (e *Engine) MatchInventory(ctx context.Context, inv *ImageInventory) (*ImageVulnerabilities, error) {
	db, info, err := e.openVulnDB(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return match(ctx, db, info, inv)
}

func match(ctx context.Context, db *vuln.DB, info *vuln.Info, inv *ImageInventory) (*ImageVulnerabilities, error) {
	res, err := vuln.Match(ctx, db, inv.SBOM)
	if err != nil {
		return nil, fmt.Errorf("matching %s against %s: %w", inv.Name, db.Path(), err)
	}
	return &ImageVulnerabilities{ImageInventory: *inv, Findings: res.Findings, Warnings: res.Warnings, DB: info}, nil
}

// openVulnDB opens the database if it exists and holds advisories; it
// never creates one, so asking about an image leaves no empty file behind.
func (e *Engine) openVulnDB(ctx context.Context) (*vuln.DB, *vuln.Info, error) {
	path := e.VulnDBPath()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w at %s: %w", ErrNoVulnDB, path, errdefs.ErrNotFound)
	} else if err != nil {
		return nil, nil, fmt.Errorf("vulnerability database: %w", err)
	}
	db, err := vuln.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	info, err := db.Info(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	if info.Advisories == 0 {
		db.Close()
		return nil, nil, fmt.Errorf("%w: %s holds no advisories: %w", ErrNoVulnDB, path, errdefs.ErrNotFound)
	}
	return db, info, nil
}

// storeLayer is a layer of the store for the inventory: its unpacked
// directory when there is one, else its blob.
type storeLayer struct {
	e       *Engine
	diffID  digest.Digest
	chainID digest.Digest
	dir     string
}

func (l *storeLayer) DiffID() digest.Digest { return l.diffID }
func (l *storeLayer) Dir() string           { return l.dir }
func (l *storeLayer) Open(ctx context.Context) (io.ReadCloser, error) {
	return l.e.OpenLayer(ctx, l.chainID, l.diffID)
}
