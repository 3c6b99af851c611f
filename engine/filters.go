package engine

import (
	"regexp"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// filterSet is --filter values parsed once, as containerd's filters and
// Docker's daemon hold them: each key with its values in the order given.
// Values of one key are alternatives; different keys must all match
// (unless a listing says otherwise, as prune does).
type filterSet map[string][]string

// filterSpec is what one listing accepts: its keys, and how its errors
// are worded. Docker's daemon says "Invalid filter" for containers and
// "invalid filter" for the rest; berth keeps its words.
type filterSpec struct {
	keys    []string
	invalid string // "Invalid filter" or "invalid filter"
}

var (
	containerFilterSpec = filterSpec{invalid: "Invalid filter",
		keys: []string{"ancestor", "before", "exited", "id", "label", "name", "since", "status"}}
	imageFilterSpec  = filterSpec{invalid: "invalid filter", keys: []string{"before", "dangling", "label", "reference", "since"}}
	volumeFilterSpec = filterSpec{invalid: "invalid filter", keys: []string{"dangling", "driver", "label", "name"}}
	pruneFilterSpec  = filterSpec{invalid: "invalid filter", keys: []string{"label", "label!", "until"}}
	searchFilterSpec = filterSpec{invalid: "invalid filter", keys: []string{"is-automated", "is-official", "stars"}}
)

// errFilterFormat is the error for a value without "=".
var errFilterFormat = errdefs.Newf(errdefs.ErrInvalid, "bad format of filter (expected name=value)")

// parse reads "key=value" arguments; a key the listing does not take is
// an error of the listing's wording.
func (s filterSpec) parse(args []string) (filterSet, error) {
	f := filterSet{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, errFilterFormat
		}
		known := false
		for _, key := range s.keys {
			known = known || key == k
		}
		if !known {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "%s '%s'", s.invalid, k)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// badValue is the error for a value a key does not take: "invalid filter
// 'dangling=maybe'".
func (s filterSpec) badValue(key, value string) error {
	return errdefs.Newf(errdefs.ErrInvalid, "%s '%s=%s'", s.invalid, key, value)
}

// Has reports whether key was given.
func (f filterSet) Has(key string) bool { return len(f[key]) > 0 }

// labelMatch tells whether labels match a label filter value: "key" (any
// value) or "key=value".
func labelMatch(labels map[string]string, v string) bool {
	k, want, hasValue := strings.Cut(v, "=")
	got, ok := labels[k]
	return ok && (!hasValue || got == want)
}

// boolValue reads a boolean filter value as Docker does.
func boolValue(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// regexps compiles a key's values, each an error of s's wording if bad.
func (s filterSpec) regexps(key string, values []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, v := range values {
		re, err := regexp.Compile(v)
		if err != nil {
			return nil, s.badValue(key, v)
		}
		out = append(out, re)
	}
	return out, nil
}
