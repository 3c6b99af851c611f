package cli

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

type searchOptions struct {
	filters []string
	format  string
	limit   int
	noTrunc bool
}

func (a *app) searchCommand() *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search a hub for images",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runSearch(cmd, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Pretty-print search using a Go template")
	f.IntVar(&o.limit, "limit", 0, "Max number of search results")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	return cmd
}

// badgeNames are how the hub's badges read in a table.
var badgeNames = map[string]string{
	"official":           "Official Image",
	"verified_publisher": "Verified Publisher",
	"open_source":        "Sponsored OSS",
}

// searchRow answers --format templates with Docker's field names, and
// Badge.
type searchRow struct {
	r     engine.SearchResult
	trunc bool
}

func (s searchRow) Name() string { return s.r.Name }
func (s searchRow) Description() string {
	d := strings.NewReplacer("\n", " ", "\r", " ").Replace(s.r.Description)
	if s.trunc {
		d = ellipsis(d, 45)
	}
	return d
}
func (s searchRow) StarCount() string   { return strconv.Itoa(s.r.Stars) }
func (s searchRow) IsOfficial() string  { return okMark(s.r.Official) }
func (s searchRow) IsAutomated() string { return okMark(s.r.Automated) }
func (s searchRow) Badge() string {
	if n, ok := badgeNames[s.r.Badge]; ok {
		return n
	}
	return s.r.Badge
}

func okMark(b bool) string {
	if b {
		return "[OK]"
	}
	return ""
}

func (s searchRow) jsonRow() map[string]string {
	return map[string]string{
		"Name": s.r.Name, "Description": s.Description(), "StarCount": s.StarCount(),
		"IsOfficial": strconv.FormatBool(s.r.Official), "Badge": s.r.Badge,
	}
}

var searchHeaders = map[string]string{
	"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED", "Badge": "BADGE",
}

func (a *app) runSearch(cmd *cobra.Command, term string, o searchOptions) error {
	ctx := cmd.Context()
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	c, err := a.registry()
	if err != nil {
		return err
	}
	res, err := e.Search(ctx, term, engine.SearchOptions{Registry: c, Limit: o.limit, Filters: o.filters})
	if err != nil {
		return err
	}
	// Docker's columns; a BADGE column when the hub gives a badge beyond
	// "official", which OFFICIAL already shows.
	table := "{{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
	for _, r := range res {
		if r.Badge != "" && r.Badge != "official" {
			table += "\t{{.Badge}}"
			break
		}
	}
	f, err := newFormatter(a.stdout, o.format, table, searchHeaders)
	if err != nil {
		return err
	}
	for _, r := range res {
		row := searchRow{r: r, trunc: !o.noTrunc}
		if err := f.item(row, row.jsonRow()); err != nil {
			return err
		}
	}
	return f.flush()
}
