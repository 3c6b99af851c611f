package cli

import (
	"context"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/opencontainers/go-digest"
)

type historyOptions struct {
	human, quiet, noTrunc bool
	format                string
}

func (a *app) historyCommand() *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runHistory(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&o.format, "format", "", "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')")
	return cmd
}

// historyRow answers --format templates with Docker's field names.
type historyRow struct {
	h              engine.HistoryItem
	human, noTrunc bool
}

func (r historyRow) ID() string {
	if r.noTrunc || r.h.ID == "<missing>" {
		return r.h.ID
	}
	return digest.Digest(r.h.ID).Encoded()[:12]
}
func (r historyRow) CreatedSince() string {
	if !r.human {
		return r.CreatedAt()
	}
	return units.HumanDuration(time.Now().UTC().Sub(r.h.Created)) + " ago"
}
func (r historyRow) CreatedAt() string { return time.Unix(r.h.Created.Unix(), 0).Format(time.RFC3339) }
func (r historyRow) CreatedBy() string {
	by := strings.ReplaceAll(r.h.CreatedBy, "\t", " ")
	if r.noTrunc {
		return by
	}
	return ellipsis(by, 45)
}
func (r historyRow) Size() string {
	if r.human {
		return humanSize(r.h.Size)
	}
	return strconv.FormatInt(r.h.Size, 10)
}
func (r historyRow) Comment() string { return r.h.Comment }

var historyHeaders = map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

func (a *app) runHistory(ctx context.Context, name string, o historyOptions) error {
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	items, err := e.History(ctx, name)
	if err != nil {
		return err
	}
	format := o.format
	if o.quiet {
		format = "{{.ID}}"
	}
	f, err := newFormatter(a.stdout, format, "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", historyHeaders)
	if err != nil {
		return err
	}
	for _, h := range items {
		r := historyRow{h: h, human: o.human, noTrunc: o.noTrunc}
		js := map[string]string{"Comment": r.Comment(), "CreatedAt": r.CreatedAt(), "CreatedBy": r.CreatedBy(), "CreatedSince": r.CreatedSince(), "ID": r.ID(), "Size": r.Size()}
		if err := f.item(r, js); err != nil {
			return err
		}
	}
	return f.flush()
}
