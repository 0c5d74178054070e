package lbmodel

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// lbCluster is a sealed cluster of apps × tasks labelled for the load
// balancer as Marathon labels them, on 50 agents, with a few tasks the load
// balancer ignores.
func lbCluster(apps, tasks int) *state.Cluster {
	c := &state.Cluster{Frameworks: []state.Framework{{ID: "fw-1", Name: "marathon"}, {ID: "fw-2", Name: "Marathon Two"}}}
	for i := range 50 {
		c.Agents = append(c.Agents, state.Agent{ID: fmt.Sprintf("agent-%02d", i), Host: fmt.Sprintf("127.1.0.%d", i+1)})
	}
	for a := range apps {
		for t := range tasks {
			c.Tasks = append(c.Tasks, lbTask(a, t, c.Agents[(a*tasks+t)%len(c.Agents)].ID))
		}
	}
	c.Tasks = append(c.Tasks, &state.Task{ID: "other.1", FrameworkID: "fw-1", AgentID: "agent-00", State: state.TaskRunning,
		Labels: []state.Label{{Key: "OTHER", Value: "x"}}})
	return c.Seal()
}

func lbTask(app, n int, agent string) *state.Task {
	healthy := n%3 != 0
	port := uint32(31000 + n)
	return &state.Task{
		ID:          fmt.Sprintf("sim_app-%04d.marathon-%04d-%d", app, n, app),
		Name:        fmt.Sprintf("app-%04d.sim", app),
		FrameworkID: "fw-1",
		AgentID:     agent,
		State:       state.TaskRunning,
		Labels: []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "HAPROXY_0_PORT", Value: fmt.Sprint(10000 + app)},
			{Key: "HAPROXY_0_VHOST", Value: fmt.Sprintf("app-%04d.sim.localhost", app)}},
		Healthy:      &healthy,
		NetInfo:      []netip.Addr{netip.AddrFrom4([4]byte{127, 1, 0, byte(1 + app%50)})},
		Ports:        []state.PortRange{{Begin: port, End: port}},
		Discovery:    &state.Discovery{Visibility: "FRAMEWORK", Name: "app", Ports: []state.DiscoveryPort{{Number: port, Name: "http", Protocol: "tcp"}}},
		RunningSince: time.Unix(1_700_000_000+int64(n), 0),
	}
}

// next returns a sealed copy of c with f applied to its tasks (and agents
// and frameworks).
func nextCluster(c *state.Cluster, f func(n *state.Cluster)) *state.Cluster {
	n := &state.Cluster{Leader: c.Leader, Agents: slices.Clone(c.Agents), Frameworks: slices.Clone(c.Frameworks), Tasks: slices.Clone(c.Tasks)}
	// f changes tasks in place: copies, as c's tasks are its own.
	for i, t := range n.Tasks {
		cp := *t
		n.Tasks[i] = &cp
	}
	f(n)
	return n.Seal()
}

func checkMesosApps(t *testing.T, step string, m *MesosApps, c *state.Cluster) {
	t.Helper()
	got, ds := m.Apps(c)
	want := AppsFromMesos(c)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%s: app %d:\n got %+v\nwant %+v", step, i, got[i], want[i])
			}
		}
		t.Fatalf("%s: %d apps, want %d", step, len(got), len(want))
	}
	for i := range got {
		if ds[i] != state.AppDigest(&want[i]) {
			t.Fatalf("%s: digest of app %s is stale", step, want[i].ID)
		}
	}
}

// TestMesosAppsMatchesAppsFromMesos changes a cluster at random, one or a
// few tasks (or an agent, or a framework) at a time, and checks that the
// incremental derivation gives what AppsFromMesos gives from scratch.
func TestMesosAppsMatchesAppsFromMesos(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := lbCluster(40, 4)
	m := NewMesosApps()
	checkMesosApps(t, "initial", m, c)
	serial := 0
	pick := func(n *state.Cluster) int { return r.IntN(len(n.Tasks)) }
	ops := []struct {
		name string
		f    func(n *state.Cluster)
	}{
		{"health", func(n *state.Cluster) {
			i := pick(n)
			h := r.IntN(2) == 0
			statetest.OwnTask(n.Tasks, i).Healthy = &h
		}},
		{"state", func(n *state.Cluster) { statetest.OwnTask(n.Tasks, pick(n)).State = state.TaskStaging }},
		{"address", func(n *state.Cluster) {
			statetest.OwnTask(n.Tasks, pick(n)).NetInfo = []netip.Addr{netip.AddrFrom4([4]byte{127, 9, byte(r.IntN(255)), 1})}
		}},
		{"port", func(n *state.Cluster) {
			i := pick(n)
			p := uint32(32000 + r.IntN(900))
			statetest.OwnTask(n.Tasks, i).Ports = []state.PortRange{{Begin: p, End: p}}
			if d := n.Tasks[i].Discovery; d != nil {
				nd := *d
				nd.Ports = []state.DiscoveryPort{{Number: p, Name: "http", Protocol: "tcp"}}
				statetest.OwnTask(n.Tasks, i).Discovery = &nd
			}
		}},
		{"kill", func(n *state.Cluster) {
			i := pick(n)
			n.Tasks = slices.Delete(n.Tasks, i, i+1)
		}},
		{"start", func(n *state.Cluster) {
			serial++
			n.Tasks = append(n.Tasks, lbTask(r.IntN(45), 100+serial, n.Agents[r.IntN(len(n.Agents))].ID))
		}},
		{"start in a new app", func(n *state.Cluster) {
			serial++
			n.Tasks = append(n.Tasks, lbTask(1000+serial, 0, n.Agents[0].ID))
		}},
		{"remove an app", func(n *state.Cluster) {
			id, _ := n.Tasks[pick(n)].Label("HAPROXY_0_PORT")
			n.Tasks = slices.DeleteFunc(n.Tasks, func(t *state.Task) bool { p, _ := t.Label("HAPROXY_0_PORT"); return p == id })
		}},
		{"same app id under the second framework", func(n *state.Cluster) {
			t := *n.Tasks[pick(n)]
			t.FrameworkID = "fw-2"
			t.ID += "-fw2"
			n.Tasks = append(n.Tasks, &t)
		}},
		{"same task id under the second framework", func(n *state.Cluster) {
			t := *n.Tasks[pick(n)]
			t.FrameworkID = "fw-2"
			n.Tasks = append(n.Tasks, &t)
		}},
		{"drop the labels", func(n *state.Cluster) { statetest.OwnTask(n.Tasks, pick(n)).Labels = nil }},
		{"app id label", func(n *state.Cluster) {
			i := pick(n)
			statetest.OwnTask(n.Tasks, i).Labels = append(slices.Clone(n.Tasks[i].Labels), state.Label{Key: LabelMarathonAppID, Value: "/other/app"})
		}},
		{"agent address", func(n *state.Cluster) {
			n.Agents[r.IntN(len(n.Agents))].Host = fmt.Sprintf("127.2.0.%d", r.IntN(250))
		}},
		{"framework name", func(n *state.Cluster) { n.Frameworks[1].Name = fmt.Sprintf("Marathon %d", r.IntN(5)) }},
		{"nothing", func(*state.Cluster) {}},
	}
	for step := range 1500 {
		var names []string
		c = nextCluster(c, func(n *state.Cluster) {
			for range 1 + r.IntN(3)*r.IntN(2) {
				op := ops[r.IntN(len(ops))]
				if len(n.Tasks) < 10 && op.name == "remove an app" {
					continue
				}
				op.f(n)
				names = append(names, op.name)
			}
		})
		checkMesosApps(t, fmt.Sprintf("step %d %v", step, names), m, c)
	}
	if len(c.Tasks) < 20 {
		t.Fatalf("the cluster shrank to %d tasks: the test changed too little", len(c.Tasks))
	}
}

// TestMesosAppsUnchangedView: a view that changes no app's task gives the
// same slices, and an unsealed cluster is derived from scratch.
func TestMesosAppsUnchangedView(t *testing.T) {
	c := lbCluster(5, 2)
	m := NewMesosApps()
	a1, _ := m.Apps(c)
	a2, _ := m.Apps(nextCluster(c, func(n *state.Cluster) {
		i := slices.IndexFunc(n.Tasks, func(t *state.Task) bool { return t.ID == "other.1" }) // no app's
		statetest.OwnTask(n.Tasks, i).State = state.TaskStaging
	}))
	if &a1[0] != &a2[0] {
		t.Error("a view that changed no app made new apps")
	}
	raw := &state.Cluster{Agents: c.Agents, Frameworks: c.Frameworks, Tasks: c.Tasks[1:5]}
	if got, ds := m.Apps(raw); len(got) != 2 || len(ds) != 2 || ds[0] != state.AppDigest(&got[0]) {
		t.Errorf("unsealed view: %d apps, digests %v", len(got), ds)
	}
	checkMesosApps(t, "after an unsealed view", m, c)
}

// BenchmarkAppsFromMesosOneTaskChange measures deriving the load balancer's
// apps from a view of 10,000 tasks (1,000 apps) that differs from the
// previous one in one task, from scratch (AppsFromMesos plus every app's
// digest, as the daemon did) and incrementally (MesosApps).
func BenchmarkAppsFromMesosOneTaskChange(b *testing.B) {
	c := lbCluster(1000, 10)
	views := make([]*state.Cluster, 64)
	for i := range views {
		views[i] = nextCluster(c, func(n *state.Cluster) {
			h := i%2 == 0
			statetest.OwnTask(n.Tasks, (i*7919)%len(n.Tasks)).Healthy = &h
		})
	}
	b.Run("scratch", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			apps := AppsFromMesos(views[i%len(views)])
			for k := range apps {
				_ = state.AppDigest(&apps[k])
			}
			i++
		}
	})
	b.Run("incremental", func(b *testing.B) {
		m := NewMesosApps()
		m.Apps(c)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// Back and forth between c and a view: two tasks change per call.
			if i%2 == 0 {
				m.Apps(views[(i/2)%len(views)])
			} else {
				m.Apps(c)
			}
			i++
		}
	})
}
