package marathon

import (
	"slices"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

func viewApp(id string, tasks ...string) state.App {
	app := state.App{ID: id}
	for _, t := range tasks {
		app.Tasks = append(app.Tasks, state.AppTask{ID: t, State: "TASK_RUNNING"})
	}
	return app
}

func viewState(v *eventView) map[string][]string {
	out := map[string][]string{}
	for _, a := range v.apps.apps {
		ids := []string{}
		for _, t := range a.Tasks {
			ids = append(ids, t.ID)
		}
		out[a.ID] = ids
	}
	return out
}

// TestEventViewRaces checks the merge rules for fetches that race with events:
// a fetch never brings back a task or an app the view has seen end, and a fetch
// older than what the view knows is dropped.
func TestEventViewRaces(t *testing.T) {
	s, err := NewEventSource(Config{URLs: []string{"http://127.0.0.1:1"}}, EventOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := &eventView{applied: map[string]uint64{}, tombs: map[string]map[string]uint64{}}
	var dirty, resyncs []string
	mark := func(id string) { dirty = append(dirty, id) }
	resync := func(r string) { resyncs = append(resyncs, r) }
	event := func(ev marathonEvent) {
		v.seq++
		s.applyEvent(v, ev, mark, resync)
	}
	check := func(step string, want map[string][]string) {
		t.Helper()
		got := viewState(v)
		if len(got) != len(want) {
			t.Fatalf("%s: view %v, want %v", step, got, want)
		}
		for id, tasks := range want {
			if !slices.Equal(got[id], tasks) {
				t.Fatalf("%s: view %v, want %v", step, got, want)
			}
		}
		for i := 1; i < len(v.apps.apps); i++ {
			if v.apps.apps[i-1].ID >= v.apps.apps[i].ID {
				t.Fatalf("%s: apps out of order", step)
			}
		}
	}
	resyncSet := func(start uint64, apps ...state.App) appsFetched {
		set := (&state.AppSet{Apps: apps}).Seal()
		return appsFetched{startSeq: start, set: set}
	}

	s.applyAll(v, resyncSet(0, viewApp("/a", "a1", "a2"), viewApp("/b", "b1")))
	check("initial", map[string][]string{"/a": {"a1", "a2"}, "/b": {"b1"}})

	event(marathonEvent{Action: actTaskGone, AppIDs: []string{"/a"}, TaskID: "a1"}) // seq 1
	check("kill applied without a fetch", map[string][]string{"/a": {"a2"}, "/b": {"b1"}})
	if len(dirty) != 0 {
		t.Fatalf("kill marked %v for refetch", dirty)
	}

	// A fetch of /a that started before the kill still lists a1.
	s.applyApp(v, appFetched{id: "/a", startSeq: 0, app: viewApp("/a", "a1", "a2", "a3")}, resync)
	check("older fetch keeps the kill", map[string][]string{"/a": {"a2", "a3"}, "/b": {"b1"}})

	event(marathonEvent{Action: actAppGone, AppIDs: []string{"/b"}}) // seq 2
	check("app gone", map[string][]string{"/a": {"a2", "a3"}})
	s.applyApp(v, appFetched{id: "/b", startSeq: 1, app: viewApp("/b", "b1")}, resync)
	check("fetch from before the removal dropped", map[string][]string{"/a": {"a2", "a3"}})

	// /c appears through a fetch that started at 2; a resync that started at 1
	// does not know it yet, and still lists /b: neither may win.
	s.applyApp(v, appFetched{id: "/c", startSeq: 2, app: viewApp("/c", "c1")}, resync)
	s.applyAll(v, resyncSet(1, viewApp("/a", "a1", "a2", "a3", "a4"), viewApp("/b", "b1")))
	check("older resync", map[string][]string{"/a": {"a2", "a3", "a4"}, "/c": {"c1"}})

	// A resync from after everything is the truth, dead tasks included (it
	// cannot list them: they are gone from Marathon).
	s.applyAll(v, resyncSet(2, viewApp("/a", "a2"), viewApp("/d")))
	check("newer resync", map[string][]string{"/a": {"a2"}, "/d": {}})
	if len(v.tombs) != 0 {
		t.Errorf("tombstones left after a newer resync: %v", v.tombs)
	}

	// A 404 removes; a failed fetch asks for a resync.
	s.applyApp(v, appFetched{id: "/d", startSeq: 2, gone: true}, resync)
	check("not found", map[string][]string{"/a": {"a2"}})
	s.applyApp(v, appFetched{id: "/a", startSeq: 2, err: errNotFound}, resync)
	if !slices.Equal(resyncs, []string{"fetch_error"}) {
		t.Errorf("resyncs = %v", resyncs)
	}

	// The published digest is the digest a poller computes for the same apps.
	want := (&state.AppSet{Apps: []state.App{viewApp("/a", "a2")}}).Seal().Digest
	if got := v.apps.snapshot("x").Digest; got != want {
		t.Errorf("digest %x, want %x", got, want)
	}
}
