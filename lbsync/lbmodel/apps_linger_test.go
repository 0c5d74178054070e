package lbmodel

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

func lingerApp(id string, port int, tasks ...string) state.App {
	a := state.App{ID: id, Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": strconv.Itoa(port)}}
	for _, t := range tasks {
		a.Tasks = append(a.Tasks, state.AppTask{ID: t, Host: "127.0.0.1", Ports: []int{31000}, State: state.TaskRunning})
	}
	return a
}

func lingerIDs(apps []state.App) []string {
	var out []string
	for _, a := range apps {
		s := a.ID + ":"
		for _, t := range a.Tasks {
			s += t.ID
		}
		out = append(out, s)
	}
	return out
}

func TestAppLinger(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newAppLinger(time.Minute)
	l.now = func() time.Time { return now }
	step := func(apps ...state.App) []string {
		t.Helper()
		digests := AppDigests(apps)
		out, d := l.Apply(apps, digests)
		if len(d) != len(out) {
			t.Fatalf("%d digests for %d apps", len(d), len(out))
		}
		for i := range out {
			if d[i] != state.AppDigest(&out[i]) {
				t.Fatalf("digest %d does not match app %s", i, out[i].ID)
			}
			if i > 0 && out[i-1].ID >= out[i].ID {
				t.Fatalf("not sorted: %v", lingerIDs(out))
			}
		}
		return lingerIDs(out)
	}
	want := func(got []string, want ...string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("apps %q, want %q", got, want)
		}
	}

	want(step(lingerApp("/a", 10000, "a1"), lingerApp("/b", 10001, "b1"), lingerApp("/c", 10002, "c1")), "/a:a1", "/b:b1", "/c:c1")
	// /b's last task ends: /b stays, without tasks.
	want(step(lingerApp("/a", 10000, "a1"), lingerApp("/c", 10002, "c1")), "/a:a1", "/b:", "/c:c1")
	if l.Lingering() != 1 {
		t.Fatalf("lingering %d, want 1", l.Lingering())
	}
	now = now.Add(30 * time.Second)
	// Still within the grace period, and /a goes too.
	want(step(lingerApp("/c", 10002, "c1")), "/a:", "/b:", "/c:c1")
	// /b comes back with a new task: no longer lingering.
	want(step(lingerApp("/b", 10001, "b2"), lingerApp("/c", 10002, "c1")), "/a:", "/b:b2", "/c:c1")
	if l.Lingering() != 1 {
		t.Fatalf("lingering %d, want 1 (/a)", l.Lingering())
	}
	// Another app takes /a's service port: /a is dropped at once.
	want(step(lingerApp("/b", 10001, "b2"), lingerApp("/c", 10002, "c1"), lingerApp("/d", 10000, "d1")), "/b:b2", "/c:c1", "/d:d1")
	// /c goes, and its time runs out.
	want(step(lingerApp("/b", 10001, "b2"), lingerApp("/d", 10000, "d1")), "/b:b2", "/c:", "/d:d1")
	now = now.Add(time.Minute)
	want(step(lingerApp("/b", 10001, "b2"), lingerApp("/d", 10000, "d1")), "/b:b2", "/d:d1")
	want(step(lingerApp("/b", 10001, "b2"), lingerApp("/d", 10000, "d1")), "/b:b2", "/d:d1")
	if l.Lingering() != 0 {
		t.Fatalf("lingering %d, want 0", l.Lingering())
	}
	// Everything gone at once; then off.
	want(step(), "/b:", "/d:")
	off := newAppLinger(0)
	apps := []state.App{lingerApp("/x", 10005, "x1")}
	if out, _ := off.Apply(apps, AppDigests(apps)); len(out) != 1 {
		t.Fatal("off: changed the apps")
	}
	if out, _ := off.Apply(nil, nil); len(out) != 0 {
		t.Fatal("off: an app lingered")
	}
}

// Under the event stream a replacement task is seen staging before it runs:
// an app whose only task is staging (or killing) lingers once it has served,
// so its frontend stays for the moment until the task runs.
func TestAppLingerWhileNoTaskRuns(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newAppLinger(time.Minute)
	l.now = func() time.Time { return now }
	staging := func(app state.App) state.App {
		app.Tasks = append([]state.AppTask(nil), app.Tasks...)
		for k := range app.Tasks {
			app.Tasks[k].State = state.TaskStaging
		}
		return app
	}
	step := func(apps ...state.App) map[string]bool {
		t.Helper()
		out, d := l.Apply(apps, AppDigests(apps))
		got := map[string]bool{}
		for i := range out {
			if d[i] != state.AppDigest(&out[i]) {
				t.Fatalf("digest %d does not match app %s", i, out[i].ID)
			}
			got[out[i].ID] = lingering(&out[i])
		}
		return got
	}
	// /new appears with a staging task only: it never served, nothing to keep.
	if got := step(lingerApp("/a", 10000, "a1"), staging(lingerApp("/new", 10001, "n1"))); got["/new"] || got["/a"] {
		t.Fatalf("lingering %v, want none", got)
	}
	if got := step(lingerApp("/a", 10000, "a1"), staging(lingerApp("/new", 10001, "n1"))); got["/new"] {
		t.Fatalf("an app that never served lingers: %v", got)
	}
	// /a's task is replaced: the new one is staging, the old one gone.
	got := step(staging(lingerApp("/a", 10000, "a2")), lingerApp("/new", 10001, "n1"))
	if !got["/a"] || got["/new"] {
		t.Fatalf("lingering %v, want /a only", got)
	}
	if l.Lingering() != 1 {
		t.Fatalf("Lingering() = %d, want 1", l.Lingering())
	}
	// Still staging 30 s later: still lingering; then it runs: served again.
	now = now.Add(30 * time.Second)
	if got := step(staging(lingerApp("/a", 10000, "a2")), lingerApp("/new", 10001, "n1")); !got["/a"] {
		t.Fatalf("lingering %v, want /a", got)
	}
	if got := step(lingerApp("/a", 10000, "a2"), lingerApp("/new", 10001, "n1")); got["/a"] || l.Lingering() != 0 {
		t.Fatalf("lingering %v (%d), want none once /a runs", got, l.Lingering())
	}
	// Staging past the grace period: no longer kept.
	step(staging(lingerApp("/a", 10000, "a3")), lingerApp("/new", 10001, "n1"))
	now = now.Add(time.Minute)
	if got := step(staging(lingerApp("/a", 10000, "a3")), lingerApp("/new", 10001, "n1")); got["/a"] {
		t.Fatalf("lingering %v after the grace period", got)
	}
}
