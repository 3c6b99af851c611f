package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image"
)

type psOptions struct {
	all, quiet, latest, noTrunc, size bool
	last                              int
	filters                           []string
	format                            string
}

// psCommand is `ps`, and `container ls` (use "ls", with ps and list as
// aliases).
func (a *app) psCommand(use string) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runPs(cmd.Context(), o)
		},
	}
	if use != "ps" {
		cmd.Aliases = []string{"ps", "list"}
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}

func (a *app) runPs(ctx context.Context, o psOptions) error {
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	if o.latest {
		o.last = 1
	}
	list, err := e.ListContainers(ctx, engine.ContainerListOptions{All: o.all || o.last > 0, Filters: o.filters})
	if err != nil {
		return err
	}
	format := o.format
	if o.quiet {
		format = "{{.ID}}"
	}
	table := "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	if o.size {
		table += "\t{{.Size}}"
	}
	f, err := newFormatter(a.stdout, format, table, psHeaders)
	if err != nil {
		return err
	}
	images := imageNames{e: e, ctx: ctx, byName: map[string]digest.Digest{}}
	var sizes map[digest.Digest]int64
	if o.size {
		sizes = map[digest.Digest]int64{}
		if imgs, err := e.Images(ctx); err == nil {
			for _, img := range imgs {
				sizes[img.ID] = img.Size
			}
		}
	}
	now := time.Now()
	shown := 0
	for _, c := range list {
		if o.last > 0 && shown == o.last {
			break
		}
		shown++
		row := psRow{c: c, trunc: !o.noTrunc, now: now, image: images.shown(c, !o.noTrunc)}
		if o.size {
			w := c.WritableSize()
			row.size = fmt.Sprintf("%s (virtual %s)", humanSize(w), humanSize(w+sizes[digest.Digest(c.ImageID)]))
		}
		if err := f.item(row, row.jsonRow()); err != nil {
			return err
		}
	}
	return f.flush()
}

// imageNames shows a container's image as Docker's ps does: the name it
// was created from while that name still means the same image, else the
// image's ID.
type imageNames struct {
	e      *engine.Engine
	ctx    context.Context
	byName map[string]digest.Digest
}

func (n imageNames) shown(c *engine.Container, trunc bool) string {
	id, ok := n.byName[c.Image]
	if !ok {
		if r, err := n.e.Resolve(n.ctx, c.Image); err == nil {
			id = r.ID
		}
		n.byName[c.Image] = id
	}
	name := c.Image
	if id.String() != c.ImageID {
		name = c.ImageID
	}
	if !trunc {
		return name
	}
	if d, err := digest.Parse(name); err == nil {
		return image.ShortID(d)
	}
	if ref, err := n.e.ParseReference(name); err == nil {
		if ref.Tag != "" {
			ref.Digest = ""
			return ref.FamiliarString(n.e.DefaultHub())
		}
		return ref.FamiliarName(n.e.DefaultHub())
	}
	return name
}

// psRow is one row of ps; its methods answer --format templates with
// Docker's field names.
type psRow struct {
	c     *engine.Container
	trunc bool
	now   time.Time
	image string
	size  string
}

func (r psRow) ID() string {
	if r.trunc {
		return r.c.ShortID()
	}
	return r.c.ID
}
func (r psRow) Image() string { return r.image }
func (r psRow) Command() string {
	cmd := r.c.Command()
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}
func (r psRow) CreatedAt() string { return time.Unix(r.c.Created.Unix(), 0).String() }
func (r psRow) RunningFor() string {
	return units.HumanDuration(r.now.UTC().Sub(r.c.Created)) + " ago"
}
func (r psRow) Ports() string  { return r.c.PortsText() }
func (r psRow) State() string  { return string(r.c.State.Status) }
func (r psRow) Status() string { return r.c.StatusText(r.now) }
func (r psRow) Names() string  { return r.c.Name }
func (r psRow) Size() string {
	if r.size == "" {
		return "0B"
	}
	return r.size
}
func (r psRow) Labels() string {
	var out []string
	for _, k := range sortedKeys(r.c.Config.Labels) {
		out = append(out, k+"="+r.c.Config.Labels[k])
	}
	return strings.Join(out, ",")
}
func (r psRow) Label(name string) string { return r.c.Config.Labels[name] }
func (r psRow) Mounts() string {
	var out []string
	for _, m := range r.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		out = append(out, name)
	}
	return strings.Join(out, ",")
}
func (r psRow) Networks() string { return r.c.HostConfig.NetworkMode }
func (r psRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Type == "volume" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r psRow) jsonRow() map[string]string {
	return map[string]string{
		"Command": r.Command(), "CreatedAt": r.CreatedAt(), "ID": r.ID(), "Image": r.Image(),
		"Labels": r.Labels(), "LocalVolumes": r.LocalVolumes(), "Mounts": r.Mounts(), "Names": r.Names(),
		"Networks": r.Networks(), "Ports": r.Ports(), "RunningFor": r.RunningFor(), "Size": r.Size(),
		"State": r.State(), "Status": r.Status(),
	}
}
