package dnsserver

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// What a new view changed, as the log tells it: tasks that came running or
// went from running, by ID; tasks that never ran are not news.
func TestDiffTasks(t *testing.T) {
	task := func(id string, st state.TaskState) *state.Task { return &state.Task{ID: id, State: st} }
	prev := &state.Cluster{Tasks: []*state.Task{
		task("a", state.TaskRunning),
		task("b", state.TaskRunning),
		task("c", state.TaskStaging),
		task("d", state.TaskRunning),
	}}
	next := &state.Cluster{Tasks: []*state.Task{
		task("a", state.TaskRunning), // unchanged
		task("b", state.TaskKilling), // stopping, still listed
		task("c", state.TaskRunning), // came running
		task("e", state.TaskRunning), // new; d is gone
		task("f", state.TaskStaging), // new, not running: no news
	}}
	got := diffTasks(prev, next).taskChanges
	want := taskChanges{started: 2, stopped: 2, startedIDs: []string{"c", "e"}, stoppedIDs: []string{"b", "d"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diffTasks = %+v, want %+v", got, want)
	}
	if got := diffTasks(nil, prev).taskChanges; got.started != 3 || got.stopped != 0 {
		t.Errorf("from nothing: %+v, want 3 started", got)
	}
	if got := sample([]string{"x", "y"}, 5); got != "x y and 3 more" {
		t.Errorf("sample = %q", got)
	}
}

// BenchmarkDiffTasks is the walk that finds what a table update
// regenerates (and the log line tells): one task stopping and one coming
// running in a cluster of tasks=N (compare BenchmarkUpdate).
func BenchmarkDiffTasks(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			prev := genCluster(n)
			tasks := slices.Clone(prev.Tasks)
			statetest.OwnTask(tasks, n/2).State = state.TaskKilling
			statetest.OwnTask(tasks, n/3).State = state.TaskStaging
			next := withTasks(prev, tasks)
			b.ReportAllocs()
			for b.Loop() {
				diffTasks(prev, next)
			}
		})
	}
}
