package fakemaster

import (
	"encoding/json"
	"fmt"
	"time"
)

// Mutations of the fake's truth. Each edits the state document (what
// /master/state serves) and emits the operator API events a Mesos master emits
// for the same change. Tasks, agents and frameworks are given in their
// /master/state shape, as map[string]any.

// terminalStates are the task states after which /master/state lists a task
// under its framework's completed tasks (once the framework acknowledged the
// update, which the fake takes as immediate) rather than under its tasks.
var terminalStates = map[string]bool{
	"TASK_FINISHED": true, "TASK_FAILED": true, "TASK_KILLED": true, "TASK_LOST": true,
	"TASK_ERROR": true, "TASK_DROPPED": true, "TASK_GONE": true, "TASK_GONE_BY_OPERATOR": true,
	"TASK_UNREACHABLE": true,
}

// Tx makes several changes at once: their events go out back to back, and the
// state document is rewritten once, when it is next read (a rewrite of the
// whole document costs milliseconds on a big cluster).
type Tx struct {
	a  *OperatorAPI
	tr *truth
}

// Batch runs f with a Tx under the master's lock. The changes f made before an
// error stay (their events went out).
func (a *OperatorAPI) Batch(f func(tx *Tx) error) error {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	if err := a.truth.sync(a.m.doc); err != nil {
		return err
	}
	err := f(&Tx{a: a, tr: &a.truth})
	a.m.unwritten = &a.truth // written back when the document is read
	a.m.body = nil
	return err
}

// AddTask is Tx.AddTask on its own.
func (a *OperatorAPI) AddTask(task map[string]any) error {
	return a.Batch(func(tx *Tx) error { return tx.AddTask(task) })
}

// UpdateTask is Tx.UpdateTask on its own.
func (a *OperatorAPI) UpdateTask(id, state string, status map[string]any) error {
	return a.Batch(func(tx *Tx) error { return tx.UpdateTask(id, state, status) })
}

// AddAgent is Tx.AddAgent on its own.
func (a *OperatorAPI) AddAgent(agent map[string]any) error {
	return a.Batch(func(tx *Tx) error { return tx.AddAgent(agent) })
}

// RemoveAgent is Tx.RemoveAgent on its own.
func (a *OperatorAPI) RemoveAgent(id string) error {
	return a.Batch(func(tx *Tx) error { return tx.RemoveAgent(id) })
}

// AddFramework is Tx.AddFramework on its own.
func (a *OperatorAPI) AddFramework(fw map[string]any) error {
	return a.Batch(func(tx *Tx) error { return tx.AddFramework(fw) })
}

// UpdateFramework is Tx.UpdateFramework on its own.
func (a *OperatorAPI) UpdateFramework(id string, edit func(fw map[string]any)) error {
	return a.Batch(func(tx *Tx) error { return tx.UpdateFramework(id, edit) })
}

// RemoveFramework is Tx.RemoveFramework on its own.
func (a *OperatorAPI) RemoveFramework(id string) error {
	return a.Batch(func(tx *Tx) error { return tx.RemoveFramework(id) })
}

// normalise round-trips v through JSON with json.Number, so that the truth
// holds what it would hold after a parse.
func normalise(v obj) (obj, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out obj
	return out, decodeUseNumber(b, &out)
}

// AddTask adds a task (its "framework_id" names the framework, which must
// exist) and emits TASK_ADDED.
func (tx *Tx) AddTask(task map[string]any) error {
	t, err := normalise(task)
	if err != nil {
		return err
	}
	id, fwID := asString(t["id"]), asString(t["framework_id"])
	a, tr := tx.a, tx.tr
	f, ok := tr.fwByID[fwID]
	if !ok {
		return fmt.Errorf("fake master: task %q: no framework %q", id, fwID)
	}
	if _, dup := tr.taskByID[id]; dup {
		return fmt.Errorf("fake master: task %q exists", id)
	}
	ft := &fakeTask{id: id, fw: f, v0: t}
	f.tasks = append(f.tasks, ft)
	tr.taskByID[id] = ft
	a.broadcast(obj{"type": "TASK_ADDED", "task_added": obj{"task": v1Task(t, fwID)}})
	return nil
}

// UpdateTask gives a task a new status and state, and emits TASK_UPDATED.
// status is a /master/state status ("state", "timestamp", "healthy", "labels",
// "container_status"); its state defaults to state and its timestamp to now. As
// Mesos does, a status in the same state as the task's last one replaces it. A
// terminal state moves the task to its framework's completed tasks.
func (tx *Tx) UpdateTask(id, state string, status map[string]any) error {
	if status == nil {
		status = map[string]any{}
	}
	st, err := normalise(status)
	if err != nil {
		return err
	}
	if _, ok := st["state"]; !ok {
		st["state"] = state
	}
	if _, ok := st["timestamp"]; !ok {
		st["timestamp"] = json.Number(fmt.Sprintf("%.6f", float64(time.Now().UnixMicro())/1e6))
	}
	a, tr := tx.a, tx.tr
	ft, ok := tr.taskByID[id]
	if !ok {
		return fmt.Errorf("fake master: no task %q", id)
	}
	a.updateTaskLocked(tr, ft, state, st)
	return nil
}

func (a *OperatorAPI) updateTaskLocked(tr *truth, ft *fakeTask, state string, st obj) {
	// A new map: the old one may be shared with nothing, but the raw cache
	// must be redone either way.
	t := make(obj, len(ft.v0))
	for k, v := range ft.v0 {
		t[k] = v
	}
	statuses, _ := t["statuses"].([]any)
	statuses = append([]any(nil), statuses...)
	if n := len(statuses); n > 0 {
		if last, ok := statuses[n-1].(obj); ok && asString(last["state"]) == asString(st["state"]) {
			statuses = statuses[:n-1]
		}
	}
	t["statuses"] = append(statuses, st)
	t["state"] = state
	ft.v0, ft.raw, ft.v1 = t, nil, nil
	a.broadcast(obj{"type": "TASK_UPDATED", "task_updated": obj{
		"framework_id": obj{"value": ft.fw.id},
		"status":       v1Status(st, ft.id),
		"state":        state,
	}})
	if terminalStates[state] {
		tr.removeTaskAt(ft.fw, ft.id)
		ft.fw.done = append(ft.fw.done, ft.encoded())
	}
}

// AddAgent adds (or replaces) an agent and emits AGENT_ADDED.
func (tx *Tx) AddAgent(agent map[string]any) error {
	ag, err := normalise(agent)
	if err != nil {
		return err
	}
	id := asString(ag["id"])
	a, tr := tx.a, tx.tr
	replaced := false
	for i, s := range tr.slaves {
		if asString(s["id"]) == id {
			tr.slaves[i], replaced = ag, true
		}
	}
	if !replaced {
		tr.slaves = append(tr.slaves, ag)
	}
	a.broadcast(obj{"type": "AGENT_ADDED", "agent_added": obj{"agent": v1Agent(ag)}})
	return nil
}

// RemoveAgent removes an agent: its tasks are lost (TASK_UPDATED TASK_LOST for
// each, as the master sends them), then AGENT_REMOVED.
func (tx *Tx) RemoveAgent(id string) error {
	a, tr := tx.a, tx.tr
	found := false
	for i, s := range tr.slaves {
		if asString(s["id"]) == id {
			tr.slaves = append(tr.slaves[:i:i], tr.slaves[i+1:]...)
			found = true
			break
		}
	}
	if !found {
		return fmt.Errorf("fake master: no agent %q", id)
	}
	now := json.Number(fmt.Sprintf("%.6f", float64(time.Now().UnixMicro())/1e6))
	for _, f := range tr.frameworks {
		for _, ft := range append([]*fakeTask(nil), f.tasks...) {
			if firstNonEmpty(asString(ft.v0["slave_id"]), asString(ft.v0["agent_id"])) == id {
				a.updateTaskLocked(tr, ft, "TASK_LOST", obj{"state": "TASK_LOST", "timestamp": now})
			}
		}
	}
	a.broadcast(obj{"type": "AGENT_REMOVED", "agent_removed": obj{"agent_id": obj{"value": id}}})
	return nil
}

// AddFramework adds a framework (without tasks) and emits FRAMEWORK_ADDED.
func (tx *Tx) AddFramework(fw map[string]any) error {
	f, err := normalise(fw)
	if err != nil {
		return err
	}
	id := asString(f["id"])
	delete(f, "tasks")
	delete(f, "completed_tasks")
	a, tr := tx.a, tx.tr
	if _, dup := tr.fwByID[id]; dup {
		return fmt.Errorf("fake master: framework %q exists", id)
	}
	ff := &fakeFramework{id: id, fields: f}
	tr.frameworks = append(tr.frameworks, ff)
	tr.fwByID[id] = ff
	a.broadcast(obj{"type": "FRAMEWORK_ADDED", "framework_added": obj{"framework": v1Framework(f)}})
	return nil
}

// UpdateFramework lets edit change a framework's fields ("active", "pid",
// "hostname", …) and emits FRAMEWORK_UPDATED.
func (tx *Tx) UpdateFramework(id string, edit func(fw map[string]any)) error {
	a, tr := tx.a, tx.tr
	ff, ok := tr.fwByID[id]
	if !ok {
		return fmt.Errorf("fake master: no framework %q", id)
	}
	fields := make(obj, len(ff.fields))
	for k, v := range ff.fields {
		fields[k] = v
	}
	edit(fields)
	f, err := normalise(fields)
	if err != nil {
		return err
	}
	ff.fields = f
	a.broadcast(obj{"type": "FRAMEWORK_UPDATED", "framework_updated": obj{"framework": v1Framework(f)}})
	return nil
}

// RemoveFramework tears a framework down: it leaves the frameworks list with
// its tasks, and FRAMEWORK_REMOVED is emitted.
func (tx *Tx) RemoveFramework(id string) error {
	a, tr := tx.a, tx.tr
	ff, ok := tr.fwByID[id]
	if !ok {
		return fmt.Errorf("fake master: no framework %q", id)
	}
	for i, f := range tr.frameworks {
		if f == ff {
			tr.frameworks = append(tr.frameworks[:i:i], tr.frameworks[i+1:]...)
			break
		}
	}
	delete(tr.fwByID, id)
	for _, t := range ff.tasks {
		delete(tr.taskByID, t.id)
	}
	info := v1Framework(ff.fields)["framework_info"]
	a.broadcast(obj{"type": "FRAMEWORK_REMOVED", "framework_removed": obj{"framework_info": info}})
	return nil
}

// TaskIDs returns the IDs of the tasks /master/state lists, in no order.
func (a *OperatorAPI) TaskIDs() ([]string, error) {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	if err := a.truth.sync(a.m.doc); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(a.truth.taskByID))
	for id := range a.truth.taskByID {
		ids = append(ids, id)
	}
	return ids, nil
}
