package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

type imagesOptions struct {
	all, quiet, digests, noTrunc bool
	filters                      []string
	format                       string
}

func (a *app) imagesCommand(use string) *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short:   "List images",
		Args:    requiresRangeArgs(0, 1),
		Aliases: []string{"list"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.filters = append(o.filters, "reference="+args[0])
			}
			return a.runImages(cmd.Context(), o)
		},
	}
	if use == "images" {
		cmd.Aliases = nil
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&o.digests, "digests", false, "Show digests")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// imageRow is one row of `image ls`; its methods answer --format templates
// with Docker's field names.
type imageRow struct {
	img     engine.ImageSummary
	repo    string
	tag     string
	digest  string
	noTrunc bool
}

func (r imageRow) ID() string {
	if r.noTrunc {
		return r.img.ID.String()
	}
	return image.ShortID(r.img.ID)
}
func (r imageRow) Repository() string { return r.repo }
func (r imageRow) Tag() string        { return r.tag }
func (r imageRow) Digest() string     { return r.digest }
func (r imageRow) CreatedSince() string {
	if r.img.Created.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(time.Now().UTC().Sub(r.img.Created)) + " ago"
}
func (r imageRow) CreatedAt() string {
	return time.Unix(r.img.Created.Unix(), 0).String()
}
func (r imageRow) Size() string        { return humanSize(r.img.Size) }
func (r imageRow) VirtualSize() string { return humanSize(r.img.Size) }
func (r imageRow) SharedSize() string  { return humanSize(r.img.SharedSize) }
func (r imageRow) UniqueSize() string  { return humanSize(r.img.Size - r.img.SharedSize) }
func (r imageRow) Containers() string  { return fmt.Sprint(r.img.Containers) }

// jsonRow is `--format json`: the fields as strings, as Docker prints them.
func (r imageRow) jsonRow() map[string]string {
	return map[string]string{
		"Containers": r.Containers(), "CreatedAt": r.CreatedAt(), "CreatedSince": r.CreatedSince(),
		"Digest": r.Digest(), "ID": r.ID(), "Repository": r.repo, "SharedSize": r.SharedSize(),
		"Size": r.Size(), "Tag": r.tag, "UniqueSize": r.UniqueSize(), "VirtualSize": r.VirtualSize(),
	}
}

var imageHeaders = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "VirtualSize": "VIRTUAL SIZE",
	"SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS",
}

func (a *app) runImages(ctx context.Context, o imagesOptions) error {
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	imgs, err := e.ListImages(ctx, engine.ImageListOptions{All: o.all, Filters: o.filters})
	if err != nil {
		return err
	}
	format := o.format
	if o.quiet {
		format = "{{.ID}}"
	}
	table := "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	if o.digests {
		table = "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	}
	f, err := newFormatter(a.stdout, format, table, imageHeaders)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, img := range imgs {
		for _, row := range imageRows(img, o.digests, o.noTrunc) {
			if o.quiet {
				if seen[row.ID()] {
					continue
				}
				seen[row.ID()] = true
			}
			if err := f.item(row, row.jsonRow()); err != nil {
				return err
			}
		}
	}
	return f.flush()
}

// imageRows makes one row per repository and tag (and digest with
// --digests), as Docker's image formatter does.
func imageRows(img engine.ImageSummary, digests, noTrunc bool) []imageRow {
	if img.Dangling() {
		return []imageRow{{img: img, repo: "<none>", tag: "<none>", digest: "<none>", noTrunc: noTrunc}}
	}
	tags := map[string][]string{}
	dgsts := map[string][]string{}
	for _, t := range img.RepoTags {
		i := strings.LastIndex(t, ":")
		tags[t[:i]] = append(tags[t[:i]], t[i+1:])
	}
	for _, d := range img.RepoDigests {
		repo, dg, _ := strings.Cut(d, "@")
		dgsts[repo] = append(dgsts[repo], dg)
	}
	var rows []imageRow
	for _, repo := range sortedKeys(tags) {
		ds := dgsts[repo]
		delete(dgsts, repo)
		if !digests {
			ds = nil
		}
		for _, tag := range tags[repo] {
			if len(ds) == 0 {
				rows = append(rows, imageRow{img: img, repo: repo, tag: tag, digest: "<none>", noTrunc: noTrunc})
				continue
			}
			for _, d := range ds {
				rows = append(rows, imageRow{img: img, repo: repo, tag: tag, digest: d, noTrunc: noTrunc})
			}
		}
	}
	for _, repo := range sortedKeys(dgsts) {
		if digests {
			for _, d := range dgsts[repo] {
				rows = append(rows, imageRow{img: img, repo: repo, tag: "<none>", digest: d, noTrunc: noTrunc})
			}
		} else {
			rows = append(rows, imageRow{img: img, repo: repo, tag: "<none>", noTrunc: noTrunc})
		}
	}
	return rows
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
