package vuln

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/vuln/osv"
)

// ImportStats counts what an import or update stored.
type ImportStats struct {
	Files      int `json:"files"`      // JSON files and zip archives read
	Advisories int `json:"advisories"` // advisories stored
	Withdrawn  int `json:"withdrawn"`  // withdrawn advisories skipped (and removed)
}

// maxRecord bounds one OSV JSON record; the largest real ones are a few MB.
const maxRecord = 64 << 20

// Progress reports a long import or update as it goes.
type Progress struct {
	Phase     string // "download" or "import"
	Ecosystem string // the export being downloaded or imported, if any
	// Done and Total count bytes while downloading (Total is -1 when the
	// server does not say) and advisories while importing (Total -1).
	Done, Total int64
}

// ImportOptions configure Import.
type ImportOptions struct {
	// Progress, when set, is called every 1000 advisories.
	Progress func(Progress)
}

// Import stores the advisories in paths: OSV JSON files (one record, or a
// JSON array of records), zip archives of them as OSV exports each
// ecosystem (<Ecosystem>/all.zip), or directories holding either. The import
// is one transaction: if any file is unreadable or malformed, the error
// names it and the database is left as it was.
func (d *DB) Import(ctx context.Context, opts ImportOptions, paths ...string) (ImportStats, error) {
	var st ImportStats
	w, err := d.begin(ctx)
	if err != nil {
		return st, fmt.Errorf("vulnerability database: %w", err)
	}
	w.progress = opts.Progress
	for _, p := range paths {
		if err := importPath(ctx, w, p, &st); err != nil {
			w.tx.Rollback()
			return ImportStats{}, err
		}
	}
	if err := w.commit(ctx); err != nil {
		return ImportStats{}, fmt.Errorf("vulnerability database: %w", err)
	}
	st.Advisories, st.Withdrawn = w.imported, w.skipped
	return st, nil
}

func importPath(ctx context.Context, w *writer, p string, st *ImportStats) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return importFile(ctx, w, p, "import", st)
	}
	return filepath.WalkDir(p, func(f string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() || !(strings.HasSuffix(f, ".json") || strings.HasSuffix(f, ".zip")) {
			return nil
		}
		return importFile(ctx, w, f, "import", st)
	})
}

func importFile(ctx context.Context, w *writer, p, source string, st *ImportStats) error {
	switch {
	case strings.HasSuffix(p, ".zip"):
		zr, err := zip.OpenReader(p)
		if err != nil {
			return fmt.Errorf("%s: %v: %w", p, err, errdefs.ErrInvalid)
		}
		defer zr.Close()
		st.Files++
		return importZip(ctx, w, &zr.Reader, p, source)
	case strings.HasSuffix(p, ".json"):
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st.Files++
		return importJSON(ctx, w, f, p, source)
	}
	return fmt.Errorf("%s: not an OSV .json file, .zip export or directory: %w", p, errdefs.ErrInvalid)
}

func importZip(ctx context.Context, w *writer, zr *zip.Reader, name, source string) error {
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %s: %v: %w", name, f.Name, err, errdefs.ErrInvalid)
		}
		err = importJSON(ctx, w, rc, name+": "+f.Name, source)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// importJSON reads one record or an array of records.
func importJSON(ctx context.Context, w *writer, r io.Reader, name, source string) error {
	b, err := io.ReadAll(io.LimitReader(r, maxRecord+1))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxRecord {
		return fmt.Errorf("%s: larger than %d bytes: %w", name, maxRecord, errdefs.ErrInvalid)
	}
	var records []json.RawMessage
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &records); err != nil {
			return fmt.Errorf("%s: %v: %w", name, err, errdefs.ErrInvalid)
		}
	} else {
		records = []json.RawMessage{b}
	}
	for _, rec := range records {
		a, err := osv.Parse(rec)
		if err != nil {
			return fmt.Errorf("%s: %v: %w", name, err, errdefs.ErrInvalid)
		}
		compact := new(bytes.Buffer)
		if err := json.Compact(compact, rec); err != nil {
			return fmt.Errorf("%s: %v: %w", name, err, errdefs.ErrInvalid)
		}
		if err := w.put(ctx, a, compact.Bytes(), source); err != nil {
			return fmt.Errorf("%s: storing %s: %w", name, a.ID, err)
		}
	}
	return nil
}
