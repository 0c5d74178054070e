package marathon

import (
	"cmp"
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
	}
}
