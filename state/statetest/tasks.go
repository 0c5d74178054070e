package statetest

import "github.com/discovery-mesos/discovery/state"

// CloneTasks copies each of ts (the struct; slices and pointers in it are
// shared). Views share their tasks, so a test that changes a task of one
// view to make the next one must change a copy.
func CloneTasks(ts []*state.Task) []*state.Task {
	out := make([]*state.Task, len(ts))
	for i, t := range ts {
		c := *t
		out[i] = &c
	}
	return out
}

// OwnTask replaces ts[i] with a copy of it and returns the copy, for a test
// to change: views share their tasks, and the tasks that did not change stay
// shared, as a source's next view shares them.
func OwnTask(ts []*state.Task, i int) *state.Task {
	t := *ts[i]
	ts[i] = &t
	return &t
}
