package osv

import (
	"slices"
)

// Version is a parsed version of some ordering scheme.
type Version interface {
	Compare(other Version) int
}

// Parser parses versions of one scheme.
type Parser func(string) (Version, error)

// Verdict is the outcome of checking one version against one affected entry.
type Verdict struct {
	Affected bool
	// FixedIn lists the versions that fix the affected version, lowest first.
	FixedIn []string
}

type event struct {
	kind byte // 'i' introduced, 'f' fixed, 'l' last_affected, 'x' limit
	raw  string
	v    Version // nil for introduced "0"
}

// Evaluate decides whether version is affected by entry, following the
// schema's evaluation rules: the explicit versions list, then each SEMVER or
// ECOSYSTEM range with its events sorted in version order. semver parses
// SEMVER ranges, eco ECOSYSTEM ranges; a range whose events do not parse is
// skipped, and its error is returned alongside the verdict of the others.
func Evaluate(entry *Affected, version string, semver, eco Parser) (Verdict, error) {
	var verdict Verdict
	if slices.Contains(entry.Versions, version) {
		verdict.Affected = true
	}
	var firstErr error
	for _, r := range entry.Ranges {
		var parse Parser
		switch r.Type {
		case "SEMVER":
			parse = semver
		case "ECOSYSTEM":
			parse = eco
		default:
			continue
		}
		if parse == nil {
			continue
		}
		in, fixed, err := inRange(r.Events, version, parse)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if in {
			verdict.Affected = true
			verdict.FixedIn = append(verdict.FixedIn, fixed...)
		}
	}
	if !verdict.Affected {
		verdict.FixedIn = nil
	}
	return verdict, firstErr
}

// inRange evaluates one range. It returns the fixed versions above v when v
// is affected.
func inRange(events []Event, version string, parse Parser) (bool, []string, error) {
	v, err := parse(version)
	if err != nil {
		return false, nil, err
	}
	evs := make([]event, 0, len(events))
	for _, e := range events {
		var ev event
		switch {
		case e.Introduced != "":
			ev = event{kind: 'i', raw: e.Introduced}
		case e.Fixed != "":
			ev = event{kind: 'f', raw: e.Fixed}
		case e.LastAffected != "":
			ev = event{kind: 'l', raw: e.LastAffected}
		case e.Limit != "":
			ev = event{kind: 'x', raw: e.Limit}
		default:
			continue
		}
		if !(ev.kind == 'i' && ev.raw == "0") && !(ev.kind == 'x' && ev.raw == "*") {
			if ev.v, err = parse(ev.raw); err != nil {
				return false, nil, err
			}
		}
		evs = append(evs, ev)
	}
	// "0" sorts first, "*" (no limit) last
	slices.SortStableFunc(evs, func(a, b event) int {
		switch {
		case a.v == nil && b.v == nil:
			return 0
		case a.v == nil:
			if a.kind == 'x' {
				return 1
			}
			return -1
		case b.v == nil:
			if b.kind == 'x' {
				return -1
			}
			return 1
		}
		return a.v.Compare(b.v)
	})
	affected := false
	for _, e := range evs {
		switch e.kind {
		case 'i':
			if e.v == nil || v.Compare(e.v) >= 0 {
				affected = true
			}
		case 'f':
			if v.Compare(e.v) >= 0 {
				affected = false
			}
		case 'l':
			if v.Compare(e.v) > 0 {
				affected = false
			}
		}
	}
	for _, e := range evs {
		if e.kind == 'x' && e.v != nil && v.Compare(e.v) >= 0 {
			affected = false
		}
	}
	if !affected {
		return false, nil, nil
	}
	var fixed []string
	for _, e := range evs {
		if e.kind == 'f' && v.Compare(e.v) < 0 {
			fixed = append(fixed, e.raw)
			break // the next fix above v: later ones fix later introductions
		}
	}
	return true, fixed, nil
}
