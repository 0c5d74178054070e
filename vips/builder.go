package vips

import (
	"cmp"
	"sync"

	"github.com/discovery-mesos/discovery/state"
)

// Builder computes Build for successive snapshots, reading only the tasks and
// apps that carry VIP labels. Build reads every task's labels; with 100,000
// tasks and none labelled that scan was most of the load balancer's work per
// event-stream change. A Builder keeps the positions of the labelled tasks
// (and apps) of the previous view and tells the ones that changed by their
// digests (Seal keeps one per task and per app), so a view costs a walk over
// the digests plus the labelled and changed ones.
//
// Build returns what the package's Build returns for the same snapshot and
// Config. A Builder is safe for concurrent use; calls are serialized.
type Builder struct {
	mu sync.Mutex
	// cluster is the view tasks was made from: the positions, in its Tasks,
	// of the tasks with a VIP label. apps and appIdx are the same for
	// Marathon's apps.
	cluster      *state.Cluster
	tasks, spare []int32
	apps         *state.AppSet
	appIdx       []int32
	appSpare     []int32
}

// Build returns Build(snap, cfg).
func (b *Builder) Build(snap *state.Snapshot, cfg Config) *Set {
	if snap == nil {
		return Build(snap, cfg)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var appIdx, taskIdx []int32
	if snap.Apps != nil {
		appIdx = b.indexApps(snap.Apps)
	}
	if snap.Cluster != nil {
		taskIdx = b.indexTasks(snap.Cluster)
	}
	if appIdx == nil && snap.Apps != nil || taskIdx == nil && snap.Cluster != nil {
		return Build(snap, cfg) // not sealed: nothing to tell changes by
	}
	return build(snap, cfg, appIdx, taskIdx)
}

// indexTasks returns the positions of c's tasks with a VIP label, nil when c
// is not sealed.
func (b *Builder) indexTasks(c *state.Cluster) []int32 {
	if c == b.cluster {
		return b.tasks
	}
	cd := c.TaskDigests()
	if len(cd) != len(c.Tasks) {
		b.cluster, b.tasks = nil, nil
		return nil
	}
	var prev []*state.Task
	var pd []uint64
	if b.cluster != nil {
		prev, pd = b.cluster.Tasks, b.cluster.TaskDigests()
	}
	out := reindex(b.spare[:0], cd, pd, b.tasks,
		func(i, j int) int { return cmp.Compare(prev[i].ID, c.Tasks[j].ID) },
		func(j int) bool { return taskHasVIP(c.Tasks[j]) })
	b.cluster, b.tasks, b.spare = c, out, b.tasks
	return out
}

// indexApps is indexTasks for Marathon's apps.
func (b *Builder) indexApps(s *state.AppSet) []int32 {
	if s == b.apps {
		return b.appIdx
	}
	if len(s.AppDigests) != len(s.Apps) {
		b.apps, b.appIdx = nil, nil
		return nil
	}
	var prev []state.App
	var pd []uint64
	if b.apps != nil {
		prev, pd = b.apps.Apps, b.apps.AppDigests
	}
	out := reindex(b.appSpare[:0], s.AppDigests, pd, b.appIdx,
		func(i, j int) int { return cmp.Compare(prev[i].ID, s.Apps[j].ID) },
		func(j int) bool { return appHasVIP(&s.Apps[j]) })
	b.apps, b.appIdx, b.appSpare = s, out, b.appIdx
	return out
}

// reindex appends to out the positions j of the current items (digests cur,
// sorted by ID) that carry VIP labels: for an item whose digest the previous
// view (digests prev, sorted by ID, labelled ones at prevIdx) had at the
// same place in the ID order, whether it was labelled then (equal digests
// are equal items); for the others, has(j), and for all when there is no
// previous view (prev empty). cmpID compares the previous item i's ID with
// the current item j's.
// The result is never nil (nil means "not sealed" to Build).
func reindex(out []int32, cur, prev []uint64, prevIdx []int32, cmpID func(i, j int) int, has func(j int) bool) []int32 {
	if out == nil {
		out = []int32{}
	}
	i, k := 0, 0
	for j := range cur {
		for i < len(prev) && prev[i] != cur[j] && cmpID(i, j) < 0 {
			i++ // gone
		}
		if i < len(prev) && prev[i] == cur[j] {
			for k < len(prevIdx) && int(prevIdx[k]) < i {
				k++
			}
			if k < len(prevIdx) && int(prevIdx[k]) == i {
				out = append(out, int32(j))
			}
			i++
			continue
		}
		if i < len(prev) && cmpID(i, j) == 0 {
			i++ // changed
		}
		if has(j) {
			out = append(out, int32(j))
		}
	}
	return out
}
