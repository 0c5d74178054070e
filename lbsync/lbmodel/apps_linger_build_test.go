package lbmodel

import (
	"slices"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// An app known only from its Mesos tasks that loses its last task keeps its
// frontend and backend (no server): losing and regaining it is server-level
// only, no reload. With lingering off it is dropped (a reload each way).
func TestLingeringAppNeedsNoReload(t *testing.T) {
	labels := []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "HAPROXY_0_PORT", Value: "10080"}}
	task := func(id string, port uint32) state.Task {
		return state.Task{ID: id, FrameworkID: "m", AgentID: "a1", State: state.TaskRunning, RunningSince: time.Unix(1000, 0),
			Labels: labels, Discovery: &state.Discovery{Name: "web", Ports: []state.DiscoveryPort{{Number: port, Protocol: "tcp"}}}}
	}
	other := state.Task{ID: "api.1", FrameworkID: "m", AgentID: "a1", State: state.TaskRunning, RunningSince: time.Unix(1000, 0),
		Labels:    []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "HAPROXY_0_PORT", Value: "10090"}},
		Discovery: &state.Discovery{Name: "api", Ports: []state.DiscoveryPort{{Number: 31500, Protocol: "tcp"}}}}
	snap := func(seq uint64, tasks ...state.Task) *state.Snapshot {
		c := (&state.Cluster{
			Agents:     []state.Agent{{ID: "a1", Host: "127.0.1.1"}},
			Frameworks: []state.Framework{{ID: "m", Name: "marathon"}},
			Tasks:      state.TaskPointers(tasks),
		}).Seal()
		return &state.Snapshot{Seq: seq, Cluster: c}
	}
	for _, linger := range []time.Duration{time.Minute, 0} {
		cfg := testConfig()
		cfg.AppLinger = linger
		build := ModelBuilder(cfg, func() *Templates { return mustTemplates(t, cfg, "", nil) }, nil)
		m1, err := build(snap(1, task("web.1", 31000), other), nil)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := build(snap(2, other), nil) // web's only task ended
		if err != nil {
			t.Fatal(err)
		}
		m3, err := build(snap(3, task("web.2", 31001), other), nil) // and a new one runs
		if err != nil {
			t.Fatal(err)
		}
		down, up := ComputePlan(m1, m2), ComputePlan(m2, m3)
		if linger == 0 {
			if len(down.Reload) == 0 || len(up.Reload) == 0 || slices.Contains(backendNames(m2), "web_10080") {
				t.Fatalf("lingering off: want the app dropped and a reload each way; got %v / %v", down.Reload, up.Reload)
			}
			continue
		}
		if len(down.Reload) > 0 || len(up.Reload) > 0 {
			t.Fatalf("reloads for an app at zero and back: %v / %v", down.Reload, up.Reload)
		}
		if got := serverAddrs(m2, "web_10080"); len(got) != 0 || !slices.Contains(backendNames(m2), "web_10080") {
			t.Fatalf("at zero: backends %v, web servers %v", backendNames(m2), got)
		}
		if got := serverAddrs(m3, "web_10080"); !slices.Equal(got, []string{"127.0.1.1:31001"}) {
			t.Fatalf("back: web servers %v", got)
		}
		if len(down.Runtime) != 1 || down.Runtime[0].Kind != OpRemove || len(up.Runtime) != 1 || up.Runtime[0].Kind != OpAdd {
			t.Fatalf("runtime ops %v / %v", down.Runtime, up.Runtime)
		}
		checkHAProxy(t, m2, mustRender(t, m2)) // a backend with no server is a valid config
	}
}
