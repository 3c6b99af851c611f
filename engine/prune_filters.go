package engine

import (
	"fmt"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

// ImagePruneKeep reads `image prune`'s filters (until, label, label!) into
// the test Prune takes: what to keep.
func ImagePruneKeep(filters []string) (func(ImageSummary) bool, error) {
	return pruneKeep(filters,
		func(s ImageSummary) time.Time { return s.Created },
		func(s ImageSummary) map[string]string { return s.Labels })
}

// pruneKeep reads prune's until= and label= filters into a "keep this"
// test for images and containers alike: prune removes what matches every
// filter, so it keeps what fails any.
func pruneKeep[T any](args []string, created func(T) time.Time, labels func(T) map[string]string) (func(T) bool, error) {
	f, err := pruneFilterSpec.parse(args)
	if err != nil {
		return nil, err
	}
	var keeps []func(T) bool
	for _, v := range f["until"] {
		cut, err := ParseTime(v)
		if err != nil {
			return nil, err
		}
		keeps = append(keeps, func(x T) bool { return !created(x).Before(cut) })
	}
	for _, key := range []string{"label", "label!"} {
		neg := key == "label!"
		for _, v := range f[key] {
			keeps = append(keeps, func(x T) bool { return labelMatch(labels(x), v) == neg })
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

// ParseTime reads a time as Docker's until filter and logs --since and
// --until take it: a duration back from now (24h), an RFC 3339 timestamp
// or date, or Unix seconds.
func ParseTime(v string) (time.Time, error) {
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

// ContainerPruneKeep reads `container prune`'s filters (until, label,
// label!) into the test PruneContainers takes: what to keep.
func ContainerPruneKeep(filters []string) (func(*Container) bool, error) {
	return pruneKeep(filters,
		func(c *Container) time.Time { return c.Created },
		func(c *Container) map[string]string { return c.Config.Labels })
}
