package mesos

import (
	"slices"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/master"

	"github.com/discovery-mesos/discovery/state"
)

type (
	masterAgent     = master.Response_GetAgents_Agent
	masterFramework = master.Response_GetFrameworks_Framework
)

// streamModel is the cluster as the event stream has told it so far, keyed so
// that an event costs O(1) (a task's insertion into the sorted ID list aside,
// a memmove). build turns it into a sealed Cluster once per batch of events:
// from the last one, copying the pointers of the tasks that did not change
// (buildChanged), or from every task. Not safe for concurrent use: the
// stream's loop owns it.
type streamModel struct {
	leader state.Master

	agents     map[string]state.Agent
	frameworks map[string]*modelFramework
	// tasks are keyed by taskKey: task IDs are unique within a framework only.
	tasks map[string]*modelTask
	// order is the tasks sorted by key: build emits them in ID order (Seal's
	// sort has nothing to do) without a map lookup per task. The last build
	// keeps it too while orderShared: whatever changes it must own it first
	// (ownOrder).
	order       []*modelTask
	orderShared bool
	// maybeOrphans is set when a task may belong to no known framework, which
	// build must then check for.
	maybeOrphans bool
	// parked are tasks that became unreachable: Mesos lists them apart, and a
	// status update brings them back when their agent returns.
	parked map[string]*modelTask

	// unknownUpdates counts TASK_UPDATED events for tasks the model does not
	// know (nothing to update: a v1 status carries no name or labels).
	unknownUpdates int

	// last is what the last build made of the tasks, nil when the next
	// build must go over them all; changed are the keys of the tasks added,
	// changed or removed since.
	last    *builtTasks
	changed map[string]struct{}
	// fromLast counts the builds buildChanged made.
	fromLast int
	// members is the last view while no event has changed an agent or a
	// framework since: the next view takes its agents and frameworks (and
	// Seal their indexes and digest) rather than building them again.
	members *state.Cluster
}

// builtTasks is the tasks of a view build made: the model's order then, and
// the view's tasks and digests, one per entry of that order (no orphan left
// out), and the sum of the digests (see state.Cluster.SealFromLast).
// The slices are the published view's: read-only.
type builtTasks struct {
	order   []*modelTask
	tasks   []*state.Task
	digests []uint64
	sum     uint64
}

// ownOrder makes m.order the model's own, copying it when the last build
// shares it: events that add or remove tasks change it in place.
func (m *streamModel) ownOrder() {
	if m.orderShared {
		m.order = slices.Grow(slices.Clone(m.order), 16)
		m.orderShared = false
	}
}

// touch notes that the task of key was added, changed or removed.
func (m *streamModel) touch(key string) {
	if m.last == nil {
		return
	}
	if m.changed == nil {
		m.changed = map[string]struct{}{}
	}
	m.changed[key] = struct{}{}
}

type modelFramework struct {
	f   state.Framework
	raw masterFramework
}

type modelTask struct {
	key string
	// t is the task as the events so far make it. Published views share it,
	// so it is never changed: an event that changes the task replaces it.
	t    *state.Task
	hist []slimStatus
	// dig is state.TaskDigest(t), zero until build computes it: whatever
	// replaces t must zero it.
	dig uint64
}

func cmpTaskKey(mt *modelTask, key string) int { return strings.Compare(mt.key, key) }

// taskKey keys a task by its ID, then its framework: sorting keys sorts tasks
// by ID, as Seal does ("\x00" sorts before any byte of an ID).
func taskKey(frameworkID, taskID string) string {
	return taskID + "\x00" + frameworkID
}

func newStreamModel() *streamModel {
	return &streamModel{
		agents:     map[string]state.Agent{},
		frameworks: map[string]*modelFramework{},
		tasks:      map[string]*modelTask{},
		parked:     map[string]*modelTask{},
	}
}

// reset replaces the model with the full state of a SUBSCRIBED event that
// mesos-go decoded. pids are the frameworks' libprocess pids by framework ID.
func (m *streamModel) reset(st *master.Response_GetState, pids map[string]string) {
	m.resetTo(subscribedFromV1(&master.Event_Subscribed{GetState: st}), pids)
}

// resetTo replaces the model with the state of a SUBSCRIBED event, taking
// ss's tasks (ss is not used again). pids are the frameworks' libprocess pids
// by framework ID.
func (m *streamModel) resetTo(ss *subscribedState, pids map[string]string) {
	*m = *newStreamModel().withLeader(m.leader)
	for _, a := range ss.agents {
		m.agents[a.ID] = a
	}
	for i := range ss.frameworks {
		m.addFramework(&ss.frameworks[i], pids)
	}
	m.tasks = make(map[string]*modelTask, len(ss.tasks))
	order := make([]*modelTask, 0, len(ss.tasks))
	for _, mt := range ss.tasks {
		key := taskKey(mt.t.FrameworkID, mt.t.ID)
		// A state naming a task twice (which /master/state shows twice)
		// keeps both; events reach the first.
		for n := 2; m.tasks[key] != nil; n++ {
			key = taskKey(mt.t.FrameworkID, mt.t.ID) + "\x00" + strconv.Itoa(n)
		}
		mt.key = key
		m.tasks[key] = mt
		order = append(order, mt)
	}
	slices.SortFunc(order, func(a, b *modelTask) int { return strings.Compare(a.key, b.key) })
	m.order = order
	m.orderShared = false
	m.maybeOrphans = len(order) > 0
	for _, mt := range ss.unreachable {
		m.parked[taskKey(mt.t.FrameworkID, mt.t.ID)] = mt
	}
}

func (m *streamModel) withLeader(l state.Master) *streamModel {
	m.leader = l
	return m
}

func (m *streamModel) addAgent(a *masterAgent) {
	ag := agentFromV1(a)
	m.agents[ag.ID] = ag
	m.members = nil
}

// removeAgent removes an agent and the tasks that ran on it: /master/state
// lists them as unreachable or completed from then on.
func (m *streamModel) removeAgent(id string) {
	delete(m.agents, id)
	m.members = nil
	m.removeTasksIf(func(mt *modelTask) bool {
		if mt.t.AgentID != id {
			return false
		}
		m.parked[mt.key] = mt
		return true
	})
}

// removeTasksIf removes the tasks gone tells, in one pass over the order:
// removing them one by one would move the rest of the order once per task
// (an agent of a 100,000-task cluster runs hundreds).
func (m *streamModel) removeTasksIf(gone func(*modelTask) bool) {
	m.ownOrder()
	m.order = slices.DeleteFunc(m.order, func(mt *modelTask) bool {
		if !gone(mt) {
			return false
		}
		delete(m.tasks, mt.key)
		m.touch(mt.key)
		return true
	})
}

func (m *streamModel) addFramework(f *masterFramework, pids map[string]string) {
	id := ""
	if f.FrameworkInfo.ID != nil {
		id = f.FrameworkInfo.ID.Value
	}
	pid := pids[id]
	if old, ok := m.frameworks[id]; ok && pid == "" {
		pid = old.f.PID
	}
	m.frameworks[id] = &modelFramework{f: frameworkFromV1(f, pid), raw: *f}
	m.members = nil
}

// setFrameworkPIDs takes new pids (from /master/state-summary); it reports
// whether any changed.
func (m *streamModel) setFrameworkPIDs(pids map[string]string) bool {
	changed := false
	for id, mf := range m.frameworks {
		pid, ok := pids[id]
		if !ok || pid == mf.f.PID {
			continue
		}
		mf.f = frameworkFromV1(&mf.raw, pid)
		changed = true
		m.members = nil
	}
	return changed
}

// removeFramework removes a framework and its tasks (Mesos moves them to the
// completed frameworks).
func (m *streamModel) removeFramework(id string) {
	delete(m.frameworks, id)
	m.members = nil
	m.removeTasksIf(func(mt *modelTask) bool { return mt.t.FrameworkID == id })
	for tid, mt := range m.parked {
		if mt.t.FrameworkID == id {
			delete(m.parked, tid)
		}
	}
}

func (m *streamModel) addTask(t *mesos.Task) {
	task, hist := taskFromV1(t)
	key := taskKey(task.FrameworkID, task.ID)
	delete(m.parked, key)
	if t.State != nil && terminalTaskState(*t.State) {
		m.removeTask(key)
		return
	}
	if _, ok := m.frameworks[task.FrameworkID]; !ok {
		m.maybeOrphans = true
	}
	m.putTask(&modelTask{key: key, t: &task, hist: hist})
}

// putTask adds a task, or replaces the one with its key.
func (m *streamModel) putTask(mt *modelTask) {
	m.touch(mt.key)
	m.ownOrder()
	i, found := slices.BinarySearchFunc(m.order, mt.key, cmpTaskKey)
	if found {
		m.order[i] = mt
	} else {
		m.order = slices.Insert(m.order, i, mt)
	}
	m.tasks[mt.key] = mt
}

func (m *streamModel) removeTask(id string) {
	if _, ok := m.tasks[id]; !ok {
		return
	}
	m.touch(id)
	delete(m.tasks, id)
	if i, ok := slices.BinarySearchFunc(m.order, id, cmpTaskKey); ok {
		m.ownOrder()
		m.order = slices.Delete(m.order, i, i+1)
	}
}

// updateTask applies a TASK_UPDATED event. It reports false when the task is
// unknown.
func (m *streamModel) updateTask(u *master.Event_TaskUpdated) bool {
	id := taskKey(u.FrameworkID.Value, u.Status.TaskID.Value)
	mt, ok := m.tasks[id]
	if !ok {
		if mt, ok = m.parked[id]; !ok {
			m.unknownUpdates++
			return false
		}
		delete(m.parked, id)
	}
	// The history is the model's alone; the task is replaced, as published
	// views share it (and the address slices, which are never written again).
	mt.hist = pruneStatuses(appendStatus(mt.hist, slimStatusFromV1(&u.Status)))
	st := u.Status.GetState()
	if u.State != nil {
		st = *u.State
	}
	t := *mt.t
	t.State = state.TaskState(st.String())
	applyStatuses(&t, mt.hist)
	mt.t, mt.dig = &t, 0
	m.touch(id)
	if terminalTaskState(st) {
		m.removeTask(id)
		if st == mesos.TASK_UNREACHABLE {
			m.parked[id] = mt
		}
		return true
	}
	if _, live := m.tasks[id]; !live {
		m.putTask(mt) // back from unreachable
	}
	return true
}

// apply applies one event (not SUBSCRIBED or HEARTBEAT, which the stream
// handles). It reports whether the view may have changed, and whether the
// framework pids should be refreshed.
func (m *streamModel) apply(e *master.Event) (changed, refreshPIDs bool) {
	switch e.Type {
	case master.Event_TASK_ADDED:
		if e.TaskAdded != nil {
			m.addTask(&e.TaskAdded.Task)
			return true, false
		}
	case master.Event_TASK_UPDATED:
		if e.TaskUpdated != nil {
			return m.updateTask(e.TaskUpdated), false
		}
	case master.Event_AGENT_ADDED:
		if e.AgentAdded != nil {
			m.addAgent(&e.AgentAdded.Agent)
			return true, false
		}
	case master.Event_AGENT_REMOVED:
		if e.AgentRemoved != nil {
			m.removeAgent(e.AgentRemoved.AgentID.Value)
			return true, false
		}
	case master.Event_FRAMEWORK_ADDED:
		if e.FrameworkAdded != nil {
			m.addFramework(&e.FrameworkAdded.Framework, nil)
			return true, true
		}
	case master.Event_FRAMEWORK_UPDATED:
		if e.FrameworkUpdated != nil {
			m.addFramework(&e.FrameworkUpdated.Framework, nil)
			return true, true
		}
	case master.Event_FRAMEWORK_REMOVED:
		if e.FrameworkRemoved != nil {
			id := ""
			if e.FrameworkRemoved.FrameworkInfo.ID != nil {
				id = e.FrameworkRemoved.FrameworkInfo.ID.Value
			}
			m.removeFramework(id)
			return true, false
		}
	}
	return false, false
}

// build makes a sealed Cluster of the model. Tasks of frameworks the master
// does not list are left out, as /master/state leaves them out.
func (m *streamModel) build(source string, at time.Time, masters []state.Master) *state.Cluster {
	c := &state.Cluster{
		Source:    source,
		FetchedAt: at,
		Leader:    m.leader,
		Masters:   slices.Clone(masters),
	}
	if m.members != nil {
		c.Agents, c.Frameworks = m.members.Agents, m.members.Frameworks
	} else {
		c.Agents = make([]state.Agent, 0, len(m.agents))
		for _, a := range m.agents {
			c.Agents = append(c.Agents, a)
		}
		c.Frameworks = make([]state.Framework, 0, len(m.frameworks))
		for _, f := range m.frameworks {
			c.Frameworks = append(c.Frameworks, f.f)
		}
	}
	built, ok := m.buildChanged()
	if !ok {
		built = m.buildAll()
	}
	m.changed = nil
	if len(built.tasks) > 0 {
		c.Tasks = built.tasks
	}
	if len(c.Agents) == 0 {
		c.Agents = nil
	}
	if len(c.Frameworks) == 0 {
		c.Frameworks = nil
	}
	// The tasks are in ID order (m.order), and only those that changed since
	// the last build needed digesting.
	m.members = c.SealFromLast(m.members, built.digests, built.sum)
	return c
}

// buildAll makes the view's tasks and their digests from every task of the
// model, leaving out the orphans (when there may be some).
func (m *streamModel) buildAll() *builtTasks {
	b := &builtTasks{
		tasks:   make([]*state.Task, 0, len(m.order)),
		digests: make([]uint64, 0, len(m.order)),
	}
	orphans := false
	for _, mt := range m.order {
		if m.maybeOrphans {
			if _, ok := m.frameworks[mt.t.FrameworkID]; !ok {
				orphans = true
				continue
			}
		}
		if mt.dig == 0 {
			mt.dig = state.TaskDigest(mt.t)
		}
		b.tasks = append(b.tasks, mt.t)
		b.digests = append(b.digests, mt.dig)
		b.sum += mt.dig
	}
	m.maybeOrphans = orphans
	m.last = nil
	if !orphans {
		b.order = m.order
		m.orderShared = true
		m.last = b
	}
	return b
}

// maxChangedShare bounds the share of the tasks that may have changed since
// the last build for buildChanged to take them from it: copying runs of
// pointers is the gain, a binary search or two per changed task the cost.
const maxChangedShare = 16

// buildChanged makes the view's tasks from the last build's: the pointers
// of the tasks unchanged since, and their digests, copied in runs (a
// memmove of 16 bytes a task, where buildAll reads every task through its
// pointer), the changed ones taken from the model. The view shares the
// unchanged tasks with the last one, and its digest sum is the last one's
// updated by the changes. It reports false when it cannot: no last build, too
// many changes, or tasks that may be orphans.
func (m *streamModel) buildChanged() (*builtTasks, bool) {
	last := m.last
	if last == nil || m.maybeOrphans || len(m.changed) > len(m.order)/maxChangedShare+1 {
		return nil, false
	}
	keys := make([]string, 0, len(m.changed))
	for k := range m.changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	order := m.order
	b := &builtTasks{
		order:   order,
		tasks:   make([]*state.Task, len(order)),
		digests: make([]uint64, len(order)),
		sum:     last.sum,
	}
	i, j := 0, 0 // next task of the last build, of this one
	for _, k := range keys {
		li, inLast := slices.BinarySearchFunc(last.order, k, cmpTaskKey)
		nj, inNow := slices.BinarySearchFunc(order, k, cmpTaskKey)
		if li < i || nj-j != li-i {
			return nil, false // not the same tasks between changes: never, but be safe
		}
		copy(b.tasks[j:nj], last.tasks[i:li])
		copy(b.digests[j:nj], last.digests[i:li])
		i, j = li, nj
		if inLast {
			b.sum -= last.digests[i]
			i++
		}
		if inNow {
			mt := order[j]
			if mt.dig == 0 {
				mt.dig = state.TaskDigest(mt.t)
			}
			b.tasks[j], b.digests[j] = mt.t, mt.dig
			b.sum += mt.dig
			j++
		}
	}
	if len(order)-j != len(last.order)-i {
		return nil, false
	}
	copy(b.tasks[j:], last.tasks[i:])
	copy(b.digests[j:], last.digests[i:])
	m.orderShared = true
	m.last = b
	m.fromLast++
	return b, true
}
