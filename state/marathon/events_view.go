package marathon

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// appList is the event source's apps, sorted by ID, with each app's digest
// beside it: publishing 10,000 apps after a change to one copies the slice and
// hashes 10,000 digests instead of rehashing every app and task.
type appList struct {
	apps []state.App
	digs []uint64
	// leftOut are the apps and tasks left out for invalid data, by app ID.
	leftOut map[string][]state.LeftOut
}

// setLeftOut records what was left out of the app id (nil: nothing) and
// reports whether that changed.
func (l *appList) setLeftOut(id string, lo []state.LeftOut) bool {
	if len(lo) == 0 {
		_, had := l.leftOut[id]
		delete(l.leftOut, id)
		return had
	}
	if l.leftOut == nil {
		l.leftOut = map[string][]state.LeftOut{}
	}
	same := slices.Equal(l.leftOut[id], lo)
	l.leftOut[id] = lo
	return !same
}

// leftOutFrom records a full set's LeftOut, grouped by app.
func (l *appList) leftOutFrom(list []state.LeftOut) {
	l.leftOut = nil
	for _, lo := range list {
		id := cmp.Or(lo.App, lo.ID)
		l.setLeftOut(id, append(l.leftOut[id], lo))
	}
}

func (l *appList) find(id string) (int, bool) {
	return slices.BinarySearchFunc(l.apps, id, func(a state.App, id string) int { return cmp.Compare(a.ID, id) })
}

// get returns the app with id, if there is one.
func (l *appList) get(id string) (state.App, bool) {
	if i, ok := l.find(id); ok {
		return l.apps[i], true
	}
	return state.App{}, false
}

// put adds or replaces app. Its tasks must be sorted by ID; the list keeps it,
// so the caller must not change it afterwards.
func (l *appList) put(app state.App) {
	d := state.AppDigest(&app)
	i, ok := l.find(app.ID)
	if ok {
		l.apps[i], l.digs[i] = app, d
		return
	}
	l.apps = slices.Insert(l.apps, i, app)
	l.digs = slices.Insert(l.digs, i, d)
}

// remove drops the app with id and reports whether there was one.
func (l *appList) remove(id string) bool {
	i, ok := l.find(id)
	if ok {
		l.apps = slices.Delete(l.apps, i, i+1)
		l.digs = slices.Delete(l.digs, i, i+1)
	}
	return ok
}

func (l *appList) len() int { return len(l.apps) }

// snapshot returns the apps as a sealed AppSet (sorted, Digest set) that
// shares nothing the list will change.
func (l *appList) snapshot(source string) *state.AppSet {
	return &state.AppSet{
		Source:     source,
		FetchedAt:  time.Now(),
		Digest:     state.CombineAppDigests(l.digs),
		Apps:       slices.Clone(l.apps),
		AppDigests: slices.Clone(l.digs),
		LeftOut:    l.leftOutList(),
	}
}

// leftOutList is every app's LeftOut, by app ID.
func (l *appList) leftOutList() []state.LeftOut {
	var out []state.LeftOut
	for _, id := range slices.Sorted(maps.Keys(l.leftOut)) {
		out = append(out, l.leftOut[id]...)
	}
	return out
}
