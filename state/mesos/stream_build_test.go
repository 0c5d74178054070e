package mesos

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/discovery-mesos/discovery/state"
)

// A view built from the last one and the tasks changed since is the view
// built from every task: through random starts, status updates, kills,
// unreachable tasks coming back, and agents and frameworks removed.
func TestStreamModelBuildFromLastMatchesFull(t *testing.T) {
	m, event := model400(t)
	m.build("mesos", time.Time{}, nil)
	rng := rand.New(rand.NewPCG(7, 8))
	pick := func() *modelTask { return m.order[rng.IntN(len(m.order))] }
	status := func(mt *modelTask, st string, i int) string {
		return fmt.Sprintf(`{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":%q},"state":%q,`+
			`"status":{"task_id":{"value":%q},"state":%q,"timestamp":%d.5,"healthy":%t,`+
			`"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"127.6.%d.%d"}]}]}}}}`,
			mt.t.FrameworkID, st, mt.t.ID, st, 1800000000+i, i%2 == 0, i%250, 1+i%200)
	}
	var unreachable []*modelTask
	for i := range 400 {
		for range 1 + rng.IntN(4) {
			switch r := rng.IntN(100); {
			case r < 35:
				event(status(pick(), "TASK_RUNNING", i))
			case r < 55:
				fw := pick().t.FrameworkID
				event(fmt.Sprintf(`{"type":"TASK_ADDED","task_added":{"task":{"name":"new","task_id":{"value":"new-%d-%d"},`+
					`"framework_id":{"value":%q},"agent_id":{"value":%q},"state":"TASK_RUNNING","resources":[],"statuses":[]}}}`,
					i, rng.IntN(1000), fw, pick().t.AgentID))
			case r < 75:
				event(status(pick(), "TASK_KILLED", i))
			case r < 85:
				mt := pick()
				unreachable = append(unreachable, mt)
				event(status(mt, "TASK_UNREACHABLE", i))
			case r < 95:
				if len(unreachable) > 0 {
					event(status(unreachable[0], "TASK_RUNNING", i))
					unreachable = unreachable[1:]
				}
			case r < 97:
				event(fmt.Sprintf(`{"type":"AGENT_REMOVED","agent_removed":{"agent_id":{"value":%q}}}`, pick().t.AgentID))
			default:
				if i > 350 { // late: a framework removed takes its tasks
					event(fmt.Sprintf(`{"type":"FRAMEWORK_REMOVED","framework_removed":{"framework_info":{"user":"u","name":"x","id":{"value":%q}}}}`, pick().t.FrameworkID))
				}
			}
		}
		c := m.build("mesos", time.Time{}, nil)
		var want []*state.Task
		for _, mt := range m.order {
			if m.frameworks[mt.t.FrameworkID] != nil {
				want = append(want, mt.t)
			}
		}
		same := len(want) == len(c.Tasks)
		for k := 0; same && k < len(want); k++ {
			// A digest covers every field.
			same = state.TaskDigest(want[k]) == state.TaskDigest(c.Tasks[k]) && c.TaskDigests()[k] == state.TaskDigest(want[k])
		}
		if !same {
			t.Fatalf("after %d rounds, tasks differ (-all +built):\n%s", i, cmp.Diff(want, c.Tasks, clusterOpts))
		}
		if full := resealed(c); full.Digest != c.Digest {
			t.Fatalf("after %d rounds, digest %x, sealing the same view whole gives %x", i, c.Digest, full.Digest)
		}
	}
	if m.fromLast < 300 {
		t.Errorf("%d of 400 builds from the last one, want most", m.fromLast)
	}
}

// model400 is a stream model reset from a 400-task SUBSCRIBED, and a
// function that applies one event record to it.
func model400(t *testing.T) (*streamModel, func(rec string)) {
	ss, err := decodeSubscribed(bytes.NewReader(subscribedRecord(getStateJSON(t, genMesosState(400)), true)), 0)
	if err != nil {
		t.Fatal(err)
	}
	m := newStreamModel()
	m.resetTo(ss, map[string]string{})
	return m, func(rec string) {
		t.Helper()
		e, _, err := decodeEvent([]byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		m.apply(e)
	}
}

// resealed is a copy of c sealed from scratch: its digest is what c's must be.
func resealed(c *state.Cluster) *state.Cluster {
	return (&state.Cluster{Leader: c.Leader, Masters: slices.Clone(c.Masters), Agents: slices.Clone(c.Agents),
		Frameworks: slices.Clone(c.Frameworks), Tasks: slices.Clone(c.Tasks)}).Seal()
}

// A view built from the last one shares the tasks that did not change with
// it, and its agents and frameworks while no event changed them; the last
// view is left as it was; digests and lookups are those of a view sealed
// whole.
func TestStreamViewSharesUnchanged(t *testing.T) {
	m, apply := model400(t)
	v1 := m.build("mesos", time.Time{}, nil)
	before := make([]uint64, len(v1.Tasks))
	for i, tk := range v1.Tasks {
		before[i] = state.TaskDigest(tk)
	}
	v1Digest := resealed(v1).Digest

	k := len(v1.Tasks) / 3
	moved := v1.Tasks[k]
	apply(fmt.Sprintf(`{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":%q},"state":"TASK_RUNNING",`+
		`"status":{"task_id":{"value":%q},"state":"TASK_RUNNING","timestamp":1900000000.5,`+
		`"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"127.7.7.7"}]}]}}}}`, moved.FrameworkID, moved.ID))
	v2 := m.build("mesos", time.Time{}, nil)
	if m.fromLast != 1 {
		t.Fatalf("%d builds from the last view, want 1", m.fromLast)
	}
	if len(v2.Tasks) != len(v1.Tasks) {
		t.Fatalf("%d tasks, then %d", len(v1.Tasks), len(v2.Tasks))
	}
	for i := range v2.Tasks {
		if shared := v2.Tasks[i] == v1.Tasks[i]; shared != (i != k) {
			t.Errorf("task %d (%s): shared %t", i, v2.Tasks[i].ID, shared)
		}
		if got := state.TaskDigest(v1.Tasks[i]); got != before[i] {
			t.Errorf("task %d (%s) of the last view changed", i, v1.Tasks[i].ID)
		}
	}
	if got := v2.Tasks[k].NetInfo; len(got) != 1 || got[0].String() != "127.7.7.7" {
		t.Errorf("moved task's addresses %v, want 127.7.7.7", got)
	}
	if resealed(v1).Digest != v1Digest || v1Digest != v1.Digest {
		t.Error("the last view's digest changed")
	}
	if v2.Digest == v1.Digest || v2.Digest != resealed(v2).Digest {
		t.Errorf("digest %x after a change (last %x), sealing whole gives %x", v2.Digest, v1.Digest, resealed(v2).Digest)
	}
	if &v2.Agents[0] != &v1.Agents[0] || &v2.Frameworks[0] != &v1.Frameworks[0] {
		t.Error("agents or frameworks built again with no event about them")
	}
	for _, a := range v2.Agents {
		if got := v2.Agent(a.ID); got == nil || got.ID != a.ID {
			t.Fatalf("Agent(%s) = %v", a.ID, got)
		}
	}

	apply(`{"type":"AGENT_ADDED","agent_added":{"agent":{"agent_info":{"hostname":"127.8.0.1","id":{"value":"agent-new"},` +
		`"port":5051},"pid":"slave(1)@127.8.0.1:5051","active":true,"version":"1.11.0"}}}`)
	v3 := m.build("mesos", time.Time{}, nil)
	if len(v3.Agents) != len(v2.Agents)+1 || v3.Agent("agent-new") == nil {
		t.Fatalf("%d agents after one added to %d; Agent(agent-new) = %v", len(v3.Agents), len(v2.Agents), v3.Agent("agent-new"))
	}
	if v3.Digest == v2.Digest || v3.Digest != resealed(v3).Digest {
		t.Errorf("digest %x after an agent came (last %x), sealing whole gives %x", v3.Digest, v2.Digest, resealed(v3).Digest)
	}
	if v2.Agent("agent-new") != nil || len(v2.Agents) != len(v1.Agents) {
		t.Error("the last view changed")
	}
}
