package vips

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/discovery-mesos/discovery/state"
)

// randomView changes a few of c's tasks (or apps of as) at random: VIP labels
// appearing, changing and disappearing, health and state changes, tasks
// coming and going, a task moving to a framework of another name.
type randomView struct {
	r     *rand.Rand
	tasks []state.Task
	apps  []state.App
	next  int
}

func (v *randomView) vipLabel() []state.Label {
	switch v.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []state.Label{{Key: "VIP_0", Value: fmt.Sprintf("/svc-%d:80", v.r.IntN(5))}}
	case 2:
		return []state.Label{{Key: "VIP_0", Value: fmt.Sprintf("127.20.0.%d:%d", 1+v.r.IntN(3), 8000+v.r.IntN(3))}}
	}
	return []state.Label{{Key: "VIP_1", Value: "bad label"}}
}

func (v *randomView) newTask() state.Task {
	v.next++
	port := uint32(31000 + v.next%1000)
	return state.Task{
		ID: fmt.Sprintf("app-%d.%06d", v.r.IntN(20), v.next), Name: fmt.Sprintf("app-%d", v.r.IntN(20)),
		FrameworkID: []string{"fw-m", "fw-k"}[v.r.IntN(2)], AgentID: fmt.Sprintf("a%d", v.r.IntN(4)),
		State: state.TaskRunning, Ports: []state.PortRange{{Begin: port, End: port}},
		Discovery: &state.Discovery{Name: "app", Ports: []state.DiscoveryPort{{Number: port, Protocol: "tcp", Labels: v.vipLabel()}}},
	}
}

func (v *randomView) newApp(id string) state.App {
	a := state.App{ID: id, Network: state.NetworkHost, Labels: map[string]string{},
		Ports: []state.AppPort{{ServicePort: 10000, Protocol: "tcp", Labels: map[string]string{}}}}
	for _, l := range v.vipLabel() {
		a.Ports[0].Labels[l.Key] = l.Value
	}
	if v.r.IntN(2) == 0 {
		a.Labels["HAPROXY_0_MODE"] = "http"
	}
	for k := range v.r.IntN(3) {
		a.Tasks = append(a.Tasks, state.AppTask{ID: fmt.Sprintf("%s.t%d", id[1:], k), Host: "127.1.0.1",
			Ports: []int{32000 + k}, State: state.TaskRunning})
	}
	return a
}

// step changes 1 to 3 things and returns the new snapshot (sealed).
func (v *randomView) step(withApps bool) *state.Snapshot {
	v.tasks = slices.Clone(v.tasks)
	v.apps = slices.Clone(v.apps)
	for range 1 + v.r.IntN(3) {
		i := v.r.IntN(max(1, len(v.tasks)))
		switch op := v.r.IntN(8); {
		case op == 0 || len(v.tasks) == 0:
			v.tasks = append(v.tasks, v.newTask())
		case op == 1:
			v.tasks = slices.Delete(v.tasks, i, i+1)
		case op == 2: // labels appear, change or disappear
			t := &v.tasks[i]
			d := *t.Discovery
			d.Ports = slices.Clone(d.Ports)
			d.Ports[0].Labels = v.vipLabel()
			t.Discovery = &d
		case op == 3:
			h := v.r.IntN(2) == 0
			v.tasks[i].Healthy = &h
		case op == 4:
			v.tasks[i].State = []state.TaskState{state.TaskRunning, state.TaskStaging, state.TaskKilling}[v.r.IntN(3)]
		case op == 5:
			v.tasks[i].FrameworkID = []string{"fw-m", "fw-k"}[v.r.IntN(2)]
		case op == 6 && withApps: // an app changes, comes or goes
			id := fmt.Sprintf("/app-%d", v.r.IntN(12))
			j := slices.IndexFunc(v.apps, func(a state.App) bool { return a.ID == id })
			switch {
			case j < 0:
				v.apps = append(v.apps, v.newApp(id))
			case v.r.IntN(3) == 0:
				v.apps = slices.Delete(v.apps, j, j+1)
			default:
				v.apps[j] = v.newApp(id)
			}
		case op == 7 && withApps && len(v.apps) > 0: // a Mesos task becomes one of an app's
			j := v.r.IntN(len(v.apps))
			a := &v.apps[j]
			a.Tasks = append(slices.Clone(a.Tasks), state.AppTask{ID: v.tasks[i].ID, Host: "127.1.0.2", Ports: []int{33000}, State: state.TaskRunning})
		}
	}
	// Each view gets copies: the next step changes v.tasks in place.
	tasks := make([]*state.Task, len(v.tasks))
	for k := range v.tasks {
		t := v.tasks[k]
		tasks[k] = &t
	}
	c := &state.Cluster{
		Agents:     []state.Agent{{ID: "a0", Host: "127.1.0.1"}, {ID: "a1", Host: "127.1.0.2"}, {ID: "a2", Host: "127.1.0.3"}},
		Frameworks: []state.Framework{{ID: "fw-m", Name: "marathon"}, {ID: "fw-k", Name: "kafka"}},
		Tasks:      tasks,
	}
	snap := &state.Snapshot{Cluster: c.Seal()}
	v.tasks = v.tasks[:0]
	for _, t := range c.Tasks { // sorted, as the next view's are
		v.tasks = append(v.tasks, *t)
	}
	if withApps {
		snap.Apps = (&state.AppSet{Apps: slices.Clone(v.apps)}).Seal()
		v.apps = slices.Clone(snap.Apps.Apps)
	}
	return snap
}

// TestBuilderMatchesBuild compares Builder.Build with Build over random
// sequences of views, Mesos tasks alone and with Marathon's apps.
func TestBuilderMatchesBuild(t *testing.T) {
	addrs := cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
	for _, withApps := range []bool{false, true} {
		for seed := range uint64(20) {
			t.Run(fmt.Sprintf("apps=%v/seed=%d", withApps, seed), func(t *testing.T) {
				v := &randomView{r: rand.New(rand.NewPCG(seed, 16))}
				for range 30 {
					v.tasks = append(v.tasks, v.newTask())
				}
				var b Builder
				labelled := 0
				for step := range 200 {
					snap := v.step(withApps)
					var cfg Config
					if step%7 == 0 {
						cfg.Exclude = map[string]bool{"app-3": true, "/app-3": true}
					}
					want := Build(snap, cfg)
					got := b.Build(snap, cfg)
					if d := cmp.Diff(want, got, addrs); d != "" {
						t.Fatalf("step %d (-Build +Builder):\n%s", step, d)
					}
					if again := b.Build(snap, cfg); !cmp.Equal(want, again, addrs) {
						t.Fatalf("step %d: the same snapshot again gives another set", step)
					}
					labelled += len(want.VIPs)
				}
				if labelled == 0 {
					t.Fatal("no VIP in any view: the test compares nothing")
				}
			})
		}
	}
}

// TestBuilderUnsealed: views without digests are built whole, and a sealed
// one after them still agrees.
func TestBuilderUnsealed(t *testing.T) {
	v := &randomView{r: rand.New(rand.NewPCG(1, 2))}
	for range 20 {
		v.tasks = append(v.tasks, v.newTask())
	}
	var b Builder
	for step := range 20 {
		snap := v.step(true)
		if step%3 == 1 {
			snap.Cluster = &state.Cluster{Agents: snap.Cluster.Agents, Frameworks: snap.Cluster.Frameworks, Tasks: snap.Cluster.Tasks}
			snap.Apps = &state.AppSet{Apps: snap.Apps.Apps}
		}
		if d := cmp.Diff(Build(snap, Config{}), b.Build(snap, Config{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
			t.Fatalf("step %d (-Build +Builder):\n%s", step, d)
		}
	}
}
