package mesos

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/discovery-mesos/discovery/state"
)

// A view built from the last one and the tasks changed since is the view
// built from every task: through random starts, status updates, kills,
// unreachable tasks coming back, and agents and frameworks removed.
func TestStreamModelBuildFromLastMatchesFull(t *testing.T) {
	ss, err := decodeSubscribed(bytes.NewReader(subscribedRecord(getStateJSON(t, genMesosState(400)), true)), 0)
	if err != nil {
		t.Fatal(err)
	}
	m := newStreamModel()
	m.resetTo(ss, map[string]string{})
	m.build("mesos", time.Time{}, nil)
	rng := rand.New(rand.NewPCG(7, 8))
	event := func(rec string) {
		t.Helper()
		e, _, err := decodeEvent([]byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		m.apply(e)
	}
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
	}
	if m.fromLast < 300 {
		t.Errorf("%d of 400 builds from the last one, want most", m.fromLast)
	}
}
