package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

// randomTasks makes random changes to the tasks of a cluster, from a small
// pool of apps, so that names are shared by several tasks, die with the last
// of their tasks and come back with a new one.
type randomTasks struct {
	r     *rand.Rand
	c     *state.Cluster
	apps  []string
	next  int
	ports bool // whether tasks get many ports (records beyond a page)
}

// task returns a new running task of a random app on a random agent.
func (g *randomTasks) task() *state.Task {
	r := g.r
	app := g.apps[r.IntN(len(g.apps))]
	g.next++
	t := state.Task{
		ID: fmt.Sprintf("%s.%04x", app, g.next), Name: app, FrameworkID: g.c.Frameworks[r.IntN(len(g.c.Frameworks))].ID,
		AgentID: g.c.Agents[r.IntN(len(g.c.Agents))].ID, State: state.TaskRunning,
	}
	switch r.IntN(4) {
	case 0: // the agent's address ("host")
	case 1:
		t.NetInfo = []netip.Addr{netip.AddrFrom4([4]byte{127, 5, byte(g.next >> 8), byte(g.next)})}
	case 2:
		t.NetInfo = []netip.Addr{netip.AddrFrom16([16]byte{0xfd, 15: byte(g.next), 14: byte(g.next >> 8)})}
	default: // two, and sometimes one another task has too
		t.NetInfo = []netip.Addr{netip.AddrFrom4([4]byte{127, 6, 0, byte(r.IntN(4))}), netip.MustParseAddr("fd00::6")}
	}
	p := uint32(31000 + r.IntN(8))
	t.Ports = []state.PortRange{{Begin: p, End: p + uint32(r.IntN(2))}}
	if g.ports {
		t.Ports = []state.PortRange{{Begin: 1000, End: 1000 + uint32(8200+r.IntN(100))}}
	}
	if r.IntN(2) == 0 {
		di := &state.Discovery{Name: app, Ports: []state.DiscoveryPort{{Number: p, Name: "http", Protocol: "tcp"}}}
		switch r.IntN(3) {
		case 0: // no protocol: tcp and udp
			di.Ports = append(di.Ports, state.DiscoveryPort{Number: p + 1, Name: "admin"})
		case 1: // two ports of one name: the same names twice
			di.Ports = append(di.Ports, state.DiscoveryPort{Number: p + 2, Name: "http", Protocol: "tcp"})
		}
		t.Discovery = di
	}
	return &t
}

// step returns c with one to three random changes.
func (g *randomTasks) step() *state.Cluster {
	r := g.r
	tasks := slices.Clone(g.c.Tasks)
	for range 1 + r.IntN(3) {
		pick := func() int { return r.IntN(len(tasks)) }
		// edit changes a copy of task i: the tasks are the last view's too.
		edit := func(i int) *state.Task {
			t := *tasks[i]
			tasks[i] = &t
			return &t
		}
		switch k := r.IntN(20); {
		case k < 6 && (!g.ports || len(tasks) < 6) || len(tasks) == 0: // started
			tasks = append(tasks, g.task())
		case k < 10 && len(tasks) > 1: // killed
			i := pick()
			tasks = slices.Delete(tasks, i, i+1)
		case k < 11 && !g.ports: // every task of one app killed: its names go
			app := tasks[pick()].Name
			tasks = slices.DeleteFunc(tasks, func(t *state.Task) bool { return t.Name == app })
		case k < 13: // changed in place: an address, or no longer running
			i := pick()
			if r.IntN(2) == 0 {
				edit(i).NetInfo = []netip.Addr{netip.AddrFrom4([4]byte{127, 7, byte(r.IntN(4)), 1})}
			} else {
				edit(i).State = state.TaskKilling
			}
		case k < 14: // back to running
			i := pick()
			edit(i).State = state.TaskRunning
		case k < 15: // moved to another agent, keeping its ID
			i := pick()
			edit(i).AgentID = g.c.Agents[r.IntN(len(g.c.Agents))].ID
		case k < 16: // another framework's task of the same ID
			t := tasks[pick()]
			u := g.task()
			u.ID = t.ID
			tasks = append(tasks, u)
		case k < 17: // a task of a framework or on an agent the cluster does not know
			t := g.task()
			if r.IntN(2) == 0 {
				t.FrameworkID = "fw-unknown"
			} else {
				t.AgentID = "agent-unknown"
			}
			tasks = append(tasks, t)
		case k < 18: // staging: no records yet
			t := g.task()
			t.State = state.TaskStaging
			tasks = append(tasks, t)
		default: // restarted: the same app, a new ID
			i := pick()
			tasks[i] = g.task()
		}
	}
	g.c = withTasks(g.c, tasks)
	return g.c
}

// TestUpdateRandomSequences applies long random sequences of task changes to
// one table by Update and compares every answer with a fresh Build's.
func TestUpdateRandomSequences(t *testing.T) {
	defer func(s int) { compactSlack = s }(compactSlack)
	cases := []struct {
		name  string
		seed  uint64
		steps int
		apps  int
		ports bool
		slack int
		long  bool // long app names: the names fill several arena pages
	}{
		{"seed 1", 1, 400, 8, false, 4096, false},
		{"seed 2", 2, 400, 3, false, 4096, false},
		{"seed 3, compacting often", 3, 300, 12, false, 0, false},
		{"long names", 5, 300, 6, false, 4096, true},
		{"names with more records than a page", 4, 8, 2, true, 1 << 20, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			compactSlack = tc.slack
			cfg := testConfig()
			g := &randomTasks{r: rand.New(rand.NewPCG(tc.seed, 99)), c: withTasks(smallCluster(), nil), ports: tc.ports}
			for i := range tc.apps {
				app := fmt.Sprintf("app%d", i)
				if tc.long {
					app += strings.Repeat("-long", 10)
				}
				g.apps = append(g.apps, app)
			}
			for range 20 {
				if tc.ports && len(g.c.Tasks) == 4 {
					break
				}
				g.c.Tasks = append(g.c.Tasks, g.task())
			}
			g.c = withTasks(g.c, g.c.Tasks)
			tab := Build(g.c, cfg)
			kinds := map[string]int{}
			bigRuns := 0 // updates that left a run longer than a page
			for step := range tc.steps {
				next := g.step()
				got := tab.Update(next)
				kinds[updateKind(tab, got)]++
				sameAnswers(t, got, Build(next, cfg))
				for i := range uint32(got.nodeCount()) {
					name := got.nodeName(i)
					if n, live := got.names.live([]byte(name)); n != i || live == got.nodes.at(i).dead() {
						t.Errorf("%s: node %d, index says %d live %v", name, i, n, live)
					}
				}
				if t.Failed() {
					t.Fatalf("step %d (%s)", step, updateKind(tab, got))
				}
				if slices.ContainsFunc(got.srv.pages, func(p []srvTarget) bool { return len(p) > 1<<rangeBits }) {
					bigRuns++
				}
				tab = got
			}
			t.Logf("%d tasks, %d names; updates %v; %d with runs over a page", len(g.c.Tasks), tab.nodeCount(), kinds, bigRuns)
			if tc.long && len(tab.names.arena.pages) < 2 {
				t.Errorf("names in %d arena page(s), want several", len(tab.names.arena.pages))
			}
			if tc.ports && bigRuns < tc.steps/2 {
				t.Errorf("%d of %d tables had runs longer than a page", bigRuns, tc.steps)
			}
			if kinds["incremental"] < tc.steps/2 {
				t.Errorf("updates %v: want most incremental", kinds)
			}
			if tc.slack == 0 && (kinds["built"] == 0 || tab.inc.compactions == 0) {
				t.Errorf("updates %v, %d compactions of the records: want some builds and compactions", kinds, tab.inc.compactions)
			}
		})
	}
}
