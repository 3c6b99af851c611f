package vuln

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// DefaultMirror is where OSV publishes its per-ecosystem exports
// (<base>/<Ecosystem>/all.zip).
const DefaultMirror = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are fetched by an update that has no inventory to
// choose from: the distros and language ecosystems berth inventories.
var DefaultEcosystems = []string{"Alpine", "Debian", "Ubuntu", "Go", "npm", "PyPI", "Maven", "crates.io"}

// UpdateOptions configure Update.
type UpdateOptions struct {
	// BaseURL serves <BaseURL>/<Ecosystem>/all.zip; DefaultMirror when empty.
	BaseURL string
	// Ecosystems to fetch, by OSV base name ("Debian", "Go", "PyPI"): the
	// union of Ecosystems over the images at hand, or DefaultEcosystems.
	Ecosystems []string
	// Client makes the requests; http.DefaultClient when nil.
	Client *http.Client
	// TempDir holds the downloads until they are imported; os.TempDir() when empty.
	TempDir string
	// Progress, when set, is called as each download advances and as the
	// advisories are stored.
	Progress func(Progress)
}

// Update downloads each ecosystem's export and replaces what an earlier
// update stored for that ecosystem, all in one transaction: every download
// completes and checks out before the database is touched, and a failure
// leaves the database as it was.
func (d *DB) Update(ctx context.Context, opts UpdateOptions) (ImportStats, error) {
	var st ImportStats
	if len(opts.Ecosystems) == 0 {
		return st, fmt.Errorf("vulnerability database update: no ecosystems to fetch")
	}
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultMirror
	}
	client := opts.Client
	if client == nil {
		client = http.DefaultClient
	}
	files := make([]*os.File, 0, len(opts.Ecosystems))
	defer func() {
		for _, f := range files {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	zips := make([]*zip.Reader, 0, len(opts.Ecosystems))
	for _, eco := range opts.Ecosystems {
		f, err := os.CreateTemp(opts.TempDir, "berth-osv-*.zip")
		if err != nil {
			return st, err
		}
		files = append(files, f)
		u := base + "/" + url.PathEscape(eco) + "/all.zip"
		n, err := download(ctx, client, u, f, func(done, total int64) {
			if opts.Progress != nil {
				opts.Progress(Progress{Phase: "download", Ecosystem: eco, Done: done, Total: total})
			}
		})
		if err != nil {
			return st, fmt.Errorf("downloading %s advisories: %w", eco, err)
		}
		zr, err := zip.NewReader(f, n)
		if err != nil {
			return st, fmt.Errorf("%s: not a zip archive: %w", u, err)
		}
		zips = append(zips, zr)
	}
	w, err := d.begin(ctx)
	if err != nil {
		return st, fmt.Errorf("vulnerability database: %w", err)
	}
	w.progress = opts.Progress
	for i, eco := range opts.Ecosystems {
		w.phase = eco
		source := "osv:" + eco
		if err := w.dropSource(ctx, source); err != nil {
			w.tx.Rollback()
			return ImportStats{}, err
		}
		if err := importZip(ctx, w, zips[i], base+"/"+eco+"/all.zip", source); err != nil {
			w.tx.Rollback()
			return ImportStats{}, err
		}
		st.Files++
	}
	if err := w.commit(ctx); err != nil {
		return ImportStats{}, fmt.Errorf("vulnerability database: %w", err)
	}
	st.Advisories, st.Withdrawn = w.imported, w.skipped
	return st, nil
}

func download(ctx context.Context, client *http.Client, u string, w io.Writer, progress func(done, total int64)) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	pw := &progressWriter{w: w, total: resp.ContentLength, fn: progress}
	n, err := io.Copy(pw, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("GET %s: got %d of %d bytes", u, n, resp.ContentLength)
	}
	return n, nil
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.fn(p.done, p.total)
	return n, err
}
