package cli

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

func (a *app) imagePruneCommand() *cobra.Command {
	var all, force, compressed bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keep, err := pruneKeep(filters,
				func(s engine.ImageSummary) time.Time { return s.Created },
				func(s engine.ImageSummary) map[string]string { return s.Labels })
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !a.confirm(warning) {
				return nil
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := e.Prune(cmd.Context(), all, keep)
			if err != nil {
				return err
			}
			if compressed {
				n, err := e.PruneCompressed(cmd.Context())
				if err != nil {
					return err
				}
				rep.SpaceReclaimed += n
			}
			a.printPruned("Deleted Images:", deletedLines(rep.Deleted, "untagged: ", "deleted: "), rep.SpaceReclaimed)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVar(&compressed, "compressed", false, "Also drop the compressed blobs kept with pulled layers (a push compresses them again)")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// printPruned reports a prune as Docker does: a heading and a line per
// object removed (when any was), then the space reclaimed.
func (a *app) printPruned(heading string, removed []string, space int64) {
	if len(removed) > 0 {
		fmt.Fprintln(a.stdout, heading)
		for _, r := range removed {
			fmt.Fprintln(a.stdout, r)
		}
		fmt.Fprintln(a.stdout)
	}
	fmt.Fprintln(a.stdout, "Total reclaimed space:", units.HumanSize(float64(space)))
}

// confirm asks Docker's question and reads the answer from stdin.
func (a *app) confirm(warning string) bool {
	fmt.Fprintf(a.stdout, "%s\nAre you sure you want to continue? [y/N] ", warning)
	answer, _ := bufio.NewReader(a.stdin).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

// pruneKeep reads prune's until= and label= filters into a "keep this" test
// for images and containers alike: prune removes what matches every filter,
// so it keeps what fails any.
func pruneKeep[T any](filters []string, created func(T) time.Time, labels func(T) map[string]string) (func(T) bool, error) {
	var keeps []func(T) bool
	for _, f := range filters {
		key, value, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "bad format of filter (expected name=value)")
		}
		switch key {
		case "until":
			cut, err := untilTime(value)
			if err != nil {
				return nil, err
			}
			keeps = append(keeps, func(x T) bool { return !created(x).Before(cut) })
		case "label", "label!":
			k, v, hasValue := strings.Cut(value, "=")
			neg := key == "label!"
			keeps = append(keeps, func(x T) bool {
				got, ok := labels(x)[k]
				return (ok && (!hasValue || got == v)) == neg
			})
		default:
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid filter '%s'", key)
		}
	}
	return func(x T) bool {
		for _, k := range keeps {
			if k(x) {
				return true
			}
		}
		return false
	}, nil
}

func untilTime(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	var sec int64
	if _, err := fmt.Sscanf(v, "%d", &sec); err == nil {
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, errdefs.Newf(errdefs.ErrInvalid, "invalid until filter %q: want a duration (24h) or a timestamp", v)
}
