package engine

import (
	"context"
	"path"
	"strings"
)

// ImageListOptions are `image ls`'s: All shows intermediate images too;
// Filters are --filter values.
type ImageListOptions struct {
	All     bool
	Filters []string
}

// ListImages lists the images `image ls` shows, newest first, with the
// filters read as Docker's daemon reads them: dangling, label, before,
// since select images, reference selects names (an image none of whose
// names match is not listed).
func (e *Engine) ListImages(ctx context.Context, o ImageListOptions) ([]ImageSummary, error) {
	f, err := imageFilterSpec.parse(o.Filters)
	if err != nil {
		return nil, err
	}
	for _, v := range f["dangling"] {
		if _, ok := boolValue(v); !ok {
			return nil, imageFilterSpec.badValue("dangling", v)
		}
	}
	imgs, err := e.Images(ctx)
	if err != nil {
		return nil, err
	}
	// before and since name an image; one not found matches nothing.
	refs := map[string]*ImageSummary{}
	for _, v := range append(f["before"], f["since"]...) {
		if r, err := e.Resolve(ctx, v); err == nil {
			for i := range imgs {
				if imgs[i].ID == r.ID {
					refs[v] = &imgs[i]
				}
			}
		}
	}
	var out []ImageSummary
	for _, img := range imgs {
		if img.Intermediate && !o.All {
			continue
		}
		ok := allOf(f["dangling"], func(v string) bool { b, _ := boolValue(v); return img.Dangling() == b }) &&
			allOf(f["label"], func(v string) bool { return labelMatch(img.Labels, v) }) &&
			allOf(f["before"], func(v string) bool { return refs[v] != nil && img.Created.Before(refs[v].Created) }) &&
			allOf(f["since"], func(v string) bool { return refs[v] != nil && img.Created.After(refs[v].Created) })
		if !ok {
			continue
		}
		if img, ok := narrowTags(img, f["reference"]); ok {
			out = append(out, img)
		}
	}
	return out, nil
}

// allOf reports whether match holds for every value: image filters of one
// key must all match, as they did in berth's images before.
func allOf(values []string, match func(string) bool) bool {
	for _, v := range values {
		if !match(v) {
			return false
		}
	}
	return true
}

// narrowTags keeps the names matching one of the reference patterns, as
// Docker's daemon does (a pattern against "name:tag" or "name"); an image
// left without names is not listed.
func narrowTags(img ImageSummary, patterns []string) (ImageSummary, bool) {
	if len(patterns) == 0 {
		return img, true
	}
	matches := func(ref, name string) bool {
		for _, p := range patterns {
			if m, _ := path.Match(p, ref); m {
				return true
			}
			if m, _ := path.Match(p, name); m {
				return true
			}
		}
		return false
	}
	var tags, digests []string
	for _, t := range img.RepoTags {
		if matches(t, t[:strings.LastIndex(t, ":")]) {
			tags = append(tags, t)
		}
	}
	for _, d := range img.RepoDigests {
		name, _, _ := strings.Cut(d, "@")
		if matches(d, name) {
			digests = append(digests, d)
		}
	}
	img.RepoTags, img.RepoDigests = tags, digests
	return img, len(tags)+len(digests) > 0
}
