package lbsync

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// ErrBaseConfigInvalid is returned by bisectInvalid when the config is rejected
// even with every app left out: the fault is in the head or a template shared by
// all, and no subset of apps can be applied.
var ErrBaseConfigInvalid = errors.New("config is invalid even without any app")

// checkFunc validates the config built with the given apps left out. It returns
// a *CheckError when haproxy rejects it, and any other error when it could not
// tell (a build or I/O failure).
type checkFunc func(ctx context.Context, exclude []string) error

// bisectInvalid finds the apps that make the config invalid, given that the
// config with every app of apps fails check. It narrows down by halves: a set
// of candidates that fails together with the apps known to be good is split, and
// each half tried with the good apps, so k bad apps among n cost about
// 2k·log2(n) checks. prevBad, the apps found bad last time, are tried first: when
// leaving them out is enough, only they are searched.
//
// The apps returned, when left out together, give a config that passes. An app
// that only fails in combination with another (two apps binding one port) is
// reported as the later of the two in the search order.
func bisectInvalid(ctx context.Context, apps, prevBad []string, check checkFunc) (bad []string, checks int, err error) {
	apps = slices.Clone(apps)
	slices.Sort(apps)
	apps = slices.Compact(apps)
	run := func(include []string) (bool, error) {
		checks++
		err := check(ctx, without(apps, include))
		var ce *CheckError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &ce):
			return false, nil
		}
		return false, err
	}

	var good, cands []string
	if len(prevBad) > 0 {
		prev := map[string]bool{}
		for _, a := range prevBad {
			prev[a] = true
		}
		var rest, old []string
		for _, a := range apps {
			if prev[a] {
				old = append(old, a)
			} else {
				rest = append(rest, a)
			}
		}
		if len(old) > 0 {
			ok, err := run(rest)
			if err != nil {
				return nil, checks, err
			}
			if ok {
				good, cands = rest, old
			}
		}
	}
	if cands == nil {
		ok, err := run(nil)
		if err != nil {
			return nil, checks, err
		}
		if !ok {
			return nil, checks, ErrBaseConfigInvalid
		}
		cands = apps
	}

	var search func(good, cands []string) ([]string, []string, error)
	// search returns good ∪ cands minus the bad apps, and the bad apps, given that
	// good passes and good ∪ cands fails.
	search = func(good, cands []string) ([]string, []string, error) {
		if len(cands) == 1 {
			return good, cands, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		half := len(cands) / 2
		var bad []string
		for _, part := range [][]string{cands[:half], cands[half:]} {
			with := append(slices.Clone(good), part...)
			ok, err := run(with)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				good = with
				continue
			}
			g, b, err := search(good, part)
			if err != nil {
				return nil, nil, err
			}
			good, bad = g, append(bad, b...)
		}
		return good, bad, nil
	}
	_, bad, err = search(good, cands)
	if err != nil {
		return nil, checks, fmt.Errorf("bisecting invalid apps: %w", err)
	}
	slices.Sort(bad)
	return bad, checks, nil
}

// without returns the apps of all that are not in include (both sorted or not).
func without(all, include []string) []string {
	in := make(map[string]bool, len(include))
	for _, a := range include {
		in[a] = true
	}
	var out []string
	for _, a := range all {
		if !in[a] {
			out = append(out, a)
		}
	}
	return out
}

// modelApps returns the ids of the apps that contribute to m, sorted.
func modelApps(m *lbmodel.Model) []string {
	var out []string
	for i := range m.Backends {
		out = append(out, m.Backends[i].Apps...)
	}
	for i := range m.Frontends {
		out = append(out, m.Frontends[i].Apps...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
