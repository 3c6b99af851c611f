package engine

import (
	"context"
	"slices"
	"strconv"

	"maps"
)

// ContainerListOptions are ps's: All lists stopped containers too, as a
// status filter does; Filters are --filter values.
type ContainerListOptions struct {
	All     bool
	Filters []string
}

// ListContainers lists the containers ps shows, newest first: the running
// ones (every one with All or a status filter) that match the filters,
// read as Docker's daemon reads them.
func (e *Engine) ListContainers(ctx context.Context, o ContainerListOptions) ([]*Container, error) {
	match, all, err := e.containerMatcher(ctx, o.Filters)
	if err != nil {
		return nil, err
	}
	list, err := e.Containers(ctx)
	if err != nil {
		return nil, err
	}
	out := list[:0:0]
	for _, c := range list {
		if (o.All || all || c.State.Running) && match(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// containerMatcher reads ps's filters; all is set when a status filter
// asks for stopped containers too. Keys are checked in sorted order, so
// that the first bad one reported does not depend on the flags' order.
func (e *Engine) containerMatcher(ctx context.Context, args []string) (match func(*Container) bool, all bool, err error) {
	f, err := containerFilterSpec.parse(args)
	if err != nil {
		return nil, false, err
	}
	var preds []func(*Container) bool
	for _, key := range slices.Sorted(maps.Keys(f)) {
		p, err := e.containerPredicate(ctx, key, f[key])
		if err != nil {
			return nil, false, err
		}
		preds = append(preds, p)
	}
	return func(c *Container) bool {
		for _, p := range preds {
			if !p(c) {
				return false
			}
		}
		return true
	}, f.Has("status"), nil
}

// containerPredicate is one key's test: true when one of its values
// matches.
func (e *Engine) containerPredicate(ctx context.Context, key string, values []string) (func(*Container) bool, error) {
	s := containerFilterSpec
	anyOf := func(one func(c *Container, v string) bool) func(*Container) bool {
		return func(c *Container) bool {
			return slices.ContainsFunc(values, func(v string) bool { return one(c, v) })
		}
	}
	switch key {
	case "status":
		for _, v := range values {
			switch v {
			case "created", "restarting", "running", "removing", "paused", "exited", "dead":
			default:
				return nil, s.badValue(key, v)
			}
		}
		return anyOf(func(c *Container, v string) bool { return string(c.State.Status) == v }), nil
	case "name", "id":
		res, err := s.regexps(key, values)
		if err != nil {
			return nil, err
		}
		return func(c *Container) bool {
			for _, re := range res {
				if key == "id" && re.MatchString(c.ID) || key == "name" && (re.MatchString(c.Name) || re.MatchString("/"+c.Name)) {
					return true
				}
			}
			return false
		}, nil
	case "ancestor":
		ids := map[string]bool{}
		for _, v := range values {
			if r, err := e.Resolve(ctx, v); err == nil {
				ids[r.ID.String()] = true
			}
		}
		return func(c *Container) bool { return ids[c.ImageID] }, nil
	case "exited":
		for _, v := range values {
			if _, err := strconv.Atoi(v); err != nil {
				return nil, s.badValue(key, v)
			}
		}
		return anyOf(func(c *Container, v string) bool {
			n, _ := strconv.Atoi(v)
			return c.State.Status == StatusExited && !c.State.StartedAt.IsZero() && c.State.ExitCode == n
		}), nil
	case "label":
		return anyOf(func(c *Container, v string) bool { return labelMatch(c.Config.Labels, v) }), nil
	}
	// before, since: relative to the last container named.
	var ref *Container
	for _, v := range values {
		var err error
		if ref, err = e.Container(ctx, v); err != nil {
			return nil, err
		}
	}
	if key == "before" {
		return func(c *Container) bool { return c.Created.Before(ref.Created) }, nil
	}
	return func(c *Container) bool { return c.Created.After(ref.Created) }, nil
}
