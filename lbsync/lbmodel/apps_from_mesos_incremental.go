package lbmodel

import (
	"cmp"
	"slices"
	"sync"

	"github.com/discovery-mesos/discovery/state"
)

// MesosApps derives the load balancer's apps from successive views of the
// Mesos cluster (AppsFromMesos), redoing only the apps whose tasks changed.
// The event stream publishes a view per change of one task or two; grouping
// all 10,000 tasks of a cluster into apps again for each took most of the
// daemon's CPU time between a change and HAProxy (and its garbage the most
// of the rest). It tells the changed tasks by their digests (Seal keeps one
// per task), so a view costs a walk over those digests plus the apps that
// changed.
//
// Apps returns what AppsFromMesos returns for the same view, with each app's
// AppDigest. A MesosApps is safe for concurrent use; calls are serialized.
type MesosApps struct {
	mu sync.Mutex
	// prev is the view the output was derived from; prevKeys is, for each
	// of its tasks, the index of its app's key (or -1: no app's), and spare
	// the slice to reuse for the next view's.
	prev            *state.Cluster
	prevKeys, spare []int32

	// keys are the (framework, Marathon app id) keys of the apps seen since
	// the last full derivation, indexed by keyIndex; slots holds what is
	// known of each.
	keys     []mesosAppKey
	keyIndex map[mesosAppKey]int32
	slots    []appSlot
	// dirty lists the slots whose tasks changed in the view being derived.
	dirty []int32

	apps    []state.App
	digests []uint64
}

type mesosAppKey struct{ framework, app string }

type appSlot struct {
	// pos is the app's index in the output, -1 when it has no task.
	pos   int32
	dirty bool
	// tasks are the app's tasks in the view being derived (dirty slots).
	tasks []*state.Task
}

// NewMesosApps returns an empty MesosApps.
func NewMesosApps() *MesosApps { return &MesosApps{} }

// Apps returns AppsFromMesos(c) and the AppDigest of each app. The slices
// are shared with later calls that find nothing changed: read-only.
func (m *MesosApps) Apps(c *state.Cluster) ([]state.App, []uint64) {
	if c == nil {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c == m.prev {
		return m.apps, m.digests
	}
	if len(c.TaskDigests()) != len(c.Tasks) {
		// Not sealed: nothing to tell the changed tasks by.
		m.reset()
		m.prev, m.prevKeys = nil, nil
		apps := AppsFromMesos(c)
		ds := make([]uint64, len(apps))
		for i := range apps {
			ds[i] = state.AppDigest(&apps[i])
		}
		return apps, ds
	}
	keys := m.spare[:0]
	if cap(keys) < len(c.Tasks) {
		keys = make([]int32, 0, len(c.Tasks)+len(c.Tasks)/8)
	}
	keys = keys[:len(c.Tasks)]
	full := m.prev == nil || !sameAppContext(m.prev, c) || len(m.keys) > 2*len(m.apps)+1024
	if full {
		m.reset()
		for j := range c.Tasks {
			keys[j] = m.classify(c.Tasks[j])
			m.markDirty(keys[j])
		}
	} else {
		m.walk(c, keys)
	}
	if len(m.dirty) > 0 || full {
		m.derive(c, keys, full)
	}
	m.prev, m.prevKeys, m.spare = c, keys, m.prevKeys
	return m.apps, m.digests
}

// reset forgets every app: the next derivation starts from nothing.
func (m *MesosApps) reset() {
	m.keys, m.slots, m.dirty = m.keys[:0], m.slots[:0], m.dirty[:0]
	m.keyIndex = map[mesosAppKey]int32{}
	m.apps, m.digests = nil, nil
}

// sameAppContext reports whether what an app reads besides its tasks is the
// same in both views: the agents' addresses, and the frameworks' names (a
// second Marathon's apps are named after it).
func sameAppContext(a, b *state.Cluster) bool {
	if len(a.Agents) != len(b.Agents) || len(a.Frameworks) != len(b.Frameworks) {
		return false
	}
	for i := range a.Agents {
		x, y := &a.Agents[i], &b.Agents[i]
		if x.ID != y.ID || x.Host != y.Host || x.Hostname != y.Hostname {
			return false
		}
	}
	for i := range a.Frameworks {
		x, y := &a.Frameworks[i], &b.Frameworks[i]
		if x.ID != y.ID || x.Name != y.Name {
			return false
		}
	}
	return true
}

// walk fills keys for c's tasks from the previous view's, where a task is
// unchanged (equal digests: both lists are sorted by ID), and marks the apps
// of the tasks that changed, came or went.
func (m *MesosApps) walk(c *state.Cluster, keys []int32) {
	prev, pd, pk := m.prev.Tasks, m.prev.TaskDigests(), m.prevKeys
	cd := c.TaskDigests()
	i := 0
	for j := range c.Tasks {
		for i < len(prev) && pd[i] != cd[j] && prev[i].ID < c.Tasks[j].ID {
			m.markDirty(pk[i]) // gone
			i++
		}
		if i < len(prev) && pd[i] == cd[j] {
			keys[j] = pk[i]
			i++
			continue
		}
		if i < len(prev) && prev[i].ID == c.Tasks[j].ID {
			m.markDirty(pk[i]) // changed (or another framework's task of that ID)
			i++
		}
		keys[j] = m.classify(c.Tasks[j])
		m.markDirty(keys[j])
	}
	for ; i < len(prev); i++ {
		m.markDirty(pk[i])
	}
}

// classify returns the index of t's app key, -1 when t is no app's.
func (m *MesosApps) classify(t *state.Task) int32 {
	if !hasHAProxyLabel(t.Labels) {
		return -1
	}
	id := marathonAppID(t)
	if id == "" {
		return -1
	}
	k := mesosAppKey{t.FrameworkID, id}
	i, ok := m.keyIndex[k]
	if !ok {
		i = int32(len(m.keys))
		m.keys = append(m.keys, k)
		m.keyIndex[k] = i
		m.slots = append(m.slots, appSlot{pos: -1})
	}
	return i
}

func (m *MesosApps) markDirty(k int32) {
	if k >= 0 && !m.slots[k].dirty {
		m.slots[k].dirty = true
		m.dirty = append(m.dirty, k)
	}
}

// derive makes the output for c from the previous one, deriving the dirty
// apps again.
func (m *MesosApps) derive(c *state.Cluster, keys []int32, full bool) {
	for j, k := range keys {
		if k >= 0 && m.slots[k].dirty {
			m.slots[k].tasks = append(m.slots[k].tasks, c.Tasks[j])
		}
	}
	reorder := full
	for _, k := range m.dirty {
		s := &m.slots[k]
		if (len(s.tasks) > 0) != (s.pos >= 0) {
			reorder = true // an app came or went
		}
	}
	if reorder {
		m.rederive(c)
	} else {
		apps, digests := slices.Clone(m.apps), slices.Clone(m.digests)
		for _, k := range m.dirty {
			s := &m.slots[k]
			a := &apps[s.pos]
			*a = appFromTasks(c, a.ID, s.tasks)
			digests[s.pos] = state.AppDigest(a)
		}
		m.apps, m.digests = apps, digests
	}
	for _, k := range m.dirty {
		s := &m.slots[k]
		clear(s.tasks) // the view's tasks must not outlive it here
		s.tasks, s.dirty = s.tasks[:0], false
	}
	m.dirty = m.dirty[:0]
}

// rederive makes the output anew when apps came or went: their order, and
// the ids of apps whose Marathon id another framework's app shares, are
// AppsFromMesos's; the apps that did not change are kept (renamed if need
// be).
func (m *MesosApps) rederive(c *state.Cluster) {
	type entry struct {
		k  int32
		id string
	}
	live := make([]entry, 0, len(m.apps)+len(m.dirty))
	for k := range m.slots {
		s := &m.slots[k]
		if s.dirty && len(s.tasks) > 0 || !s.dirty && s.pos >= 0 {
			live = append(live, entry{k: int32(k)})
		}
	}
	slices.SortFunc(live, func(a, b entry) int {
		x, y := m.keys[a.k], m.keys[b.k]
		return cmp.Or(cmp.Compare(x.app, y.app), cmp.Compare(x.framework, y.framework))
	})
	for i := range live {
		k := m.keys[live[i].k]
		live[i].id = k.app
		if i > 0 && m.keys[live[i-1].k].app == k.app {
			fw := k.framework
			if f := c.Framework(k.framework); f != nil && f.Name != "" {
				fw = f.Name
			}
			live[i].id = "/" + sanitizeIDSegment(fw) + k.app
		}
	}
	slices.SortStableFunc(live, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
	apps, digests := make([]state.App, len(live)), make([]uint64, len(live))
	for i, e := range live {
		s := &m.slots[e.k]
		switch {
		case s.dirty:
			apps[i] = appFromTasks(c, e.id, s.tasks)
			digests[i] = state.AppDigest(&apps[i])
		case m.apps[s.pos].ID != e.id:
			apps[i] = m.apps[s.pos]
			apps[i].ID = e.id
			digests[i] = state.AppDigest(&apps[i])
		default:
			apps[i], digests[i] = m.apps[s.pos], m.digests[s.pos]
		}
	}
	for k := range m.slots {
		m.slots[k].pos = -1
	}
	for i, e := range live {
		m.slots[e.k].pos = int32(i)
	}
	if len(apps) == 0 {
		apps, digests = nil, nil
	}
	m.apps, m.digests = apps, digests
}
