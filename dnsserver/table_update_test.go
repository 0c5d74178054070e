package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// withTasks returns a sealed copy of c with its tasks replaced by tasks.
func withTasks(c *state.Cluster, tasks []*state.Task) *state.Cluster {
	return (&state.Cluster{
		Source: c.Source, Leader: c.Leader, Masters: slices.Clone(c.Masters),
		Agents: slices.Clone(c.Agents), Frameworks: slices.Clone(c.Frameworks), Tasks: tasks,
	}).Seal()
}

// lookupDump renders everything a table answers for name.
func lookupDump(tab *Table, name string) string {
	var s Scratch
	var sb strings.Builder
	rrs := func(rs []dns.RR) string {
		out := make([]string, len(rs))
		for i, rr := range rs {
			out[i] = rr.String()
		}
		if len(out) > 16 {
			// Large RRsets are ordered by node number, which Update keeps
			// and Build assigns afresh.
			slices.Sort(out)
		}
		return strings.Join(out, " | ")
	}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeANY} {
		res := tab.Lookup(name, qt, &s)
		fmt.Fprintf(&sb, "%s rcode=%d answer=[%s] extra=[%s]\n", dns.TypeToString[qt], res.Rcode, rrs(res.Answer), rrs(res.Extra))
	}
	return sb.String()
}

// sameAnswers fails t unless got answers every name either table knows
// exactly as want does.
func sameAnswers(t *testing.T, got, want *Table) {
	t.Helper()
	if got.Names() != want.Names() || got.Records() != want.Records() {
		t.Errorf("names/records = %d/%d, want %d/%d", got.Names(), got.Records(), want.Names(), want.Records())
	}
	names := map[string]bool{}
	for _, tab := range []*Table{got, want} {
		for i := range uint32(tab.nodeCount()) {
			names[tab.nodeName(i)] = true
		}
	}
	bad := 0
	for name := range names {
		if g, w := lookupDump(got, name), lookupDump(want, name); g != w {
			if bad++; bad <= 5 {
				t.Errorf("%s:\n got %s\nwant %s", name, g, w)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d names answer differently", bad, len(names))
	}
}

// mutate makes one random change to the tasks (or, rarely, an agent) of c.
func mutate(r *rand.Rand, c *state.Cluster, step int) *state.Cluster {
	tasks := slices.Clone(c.Tasks)
	pick := func() int { return r.IntN(len(tasks)) }
	switch k := r.IntN(11); {
	case k < 3: // a task killed
		i := pick()
		tasks = slices.Delete(tasks, i, i+1)
	case k < 6: // a task started: an instance of an app, or of a new app
		nt := *tasks[pick()]
		if r.IntN(3) == 0 {
			nt.Name = fmt.Sprintf("new-app-%d", step)
			if nt.Discovery != nil {
				d := *nt.Discovery
				d.Name = nt.Name
				nt.Discovery = &d
			}
		}
		nt.ID = fmt.Sprintf("%s.started-%d", nt.Name, step)
		nt.NetInfo = []netip.Addr{netip.AddrFrom4([4]byte{127, 9, byte(step / 250), byte(1 + step%250)})}
		tasks = append(tasks, &nt)
	case k < 7: // a task's address changed
		i := pick()
		statetest.OwnTask(tasks, i).NetInfo = []netip.Addr{netip.MustParseAddr(fmt.Sprintf("fd00::%x", step+1))}
	case k < 8: // a task killing (no longer running)
		statetest.OwnTask(tasks, pick()).State = state.TaskKilling
	case k < 9: // a task moved to another agent
		t := statetest.OwnTask(tasks, pick())
		t.AgentID = c.Agents[r.IntN(len(c.Agents))].ID
		t.ID += "-moved"
	case k < 10: // a task staged (no records yet: the table is only retargeted)
		nt := *tasks[pick()]
		nt.ID = fmt.Sprintf("%s.staged-%d", nt.Name, step)
		nt.State = state.TaskStaging
		tasks = append(tasks, &nt)
	default: // an agent's address changed: a full build
		out := withTasks(c, tasks)
		out.Agents[0].Host = fmt.Sprintf("127.8.0.%d", 1+step%250)
		return out.Seal()
	}
	return withTasks(c, tasks)
}

// updateKind tells how Update made got from tab: "built" afresh,
// "retargeted" (the same names and records), or "incremental".
func updateKind(tab, got *Table) string {
	switch {
	case got.inc == nil || got.inc != tab.inc:
		return "built"
	case &got.nodes.pages[0] == &tab.nodes.pages[0]:
		return "retargeted"
	}
	return "incremental"
}

func TestUpdateMatchesBuild(t *testing.T) {
	cfg := testConfig()
	cases := []struct {
		name  string
		c     *state.Cluster
		cfg   Config
		steps int
		hosts HostAddrs
	}{
		{"generated", genCluster(200), cfg, 80, nil},
		{"small", smallCluster(), cfg, 60, nil},
		{"fixture rfc952", fixtureCluster(t), func() Config { c := cfg; c.EnforceRFC952 = true; return c }(), 60, nil},
		{"fixture host first", fixtureCluster(t), func() Config { c := cfg; c.IPSources = []string{"host", "netinfo"}; return c }(), 30, nil},
		{"host names and raw DiscoveryInfo names", namedHostsCluster(), func() Config { c := cfg; c.IPSources = []string{"host"}; return c }(), 60,
			HostAddrs{"agent-one": addrs("127.0.1.1", "fd00::1"), "sched-host": addrs("127.0.2.1")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
			c := tc.c
			tab := build(c, tc.cfg, tc.hosts)
			kinds := map[string]int{}
			for step := range tc.steps {
				next := mutate(r, c, step)
				if len(next.Tasks) == 0 {
					break
				}
				got := tab.update(next, tc.hosts)
				kinds[updateKind(tab, got)]++
				sameAnswers(t, got, build(next, tc.cfg, tc.hosts))
				if t.Failed() {
					t.Fatalf("step %d", step)
				}
				c, tab = next, got
			}
			if kinds["incremental"] == 0 || kinds["built"] == 0 || kinds["retargeted"] == 0 {
				t.Errorf("updates %v: want each kind", kinds)
			}
		})
	}
}

// TestUpdateEachTask removes each task of the fixture in turn, then puts it
// back, updating one table throughout.
func TestUpdateEachTask(t *testing.T) {
	cfg := testConfig()
	c := fixtureCluster(t)
	tab := Build(c, cfg)
	for i := range c.Tasks {
		without := withTasks(c, slices.Delete(slices.Clone(c.Tasks), i, i+1))
		tab = tab.Update(without)
		sameAnswers(t, tab, Build(without, cfg))
		back := withTasks(c, slices.Clone(c.Tasks))
		tab = tab.Update(back)
		sameAnswers(t, tab, Build(back, cfg))
		if t.Failed() {
			t.Fatalf("task %d (%s)", i, c.Tasks[i].ID)
		}
	}
}

// TestUpdateDropsDeadNames: a name only the killed task had is gone
// (NXDOMAIN), not left empty (NODATA).
func TestUpdateDropsDeadNames(t *testing.T) {
	c := smallCluster()
	tab := Build(c, testConfig())
	name := "v6.marathon.mesos."
	if res := tab.Lookup(name, dns.TypeAAAA, &Scratch{}); res.Rcode != dns.RcodeSuccess || len(res.Answer) == 0 {
		t.Fatalf("before: %s rcode %d, %d answers", name, res.Rcode, len(res.Answer))
	}
	tasks := slices.DeleteFunc(slices.Clone(c.Tasks), func(t *state.Task) bool { return t.ID == "v6.1" })
	upd := tab.Update(withTasks(c, tasks))
	if upd.inc == nil || upd.inc.deadNodes == 0 {
		t.Fatalf("update left no dead names")
	}
	if res := upd.Lookup(name, dns.TypeAAAA, &Scratch{}); res.Rcode != dns.RcodeNameError {
		t.Errorf("after: %s rcode %d, want NXDOMAIN", name, res.Rcode)
	}
	if _, ok := upd.find(name); ok {
		t.Errorf("find(%s) found a dead name", name)
	}
}

// TestUpdateLeavesOldTableAlone: tables made by Update from one table, even
// several from the same one, leave it answering as before, while it serves.
func TestUpdateLeavesOldTableAlone(t *testing.T) {
	c := genCluster(200)
	tab := Build(c, testConfig())
	before := map[string]string{}
	for i := range uint32(tab.nodeCount()) {
		name := tab.nodeName(i)
		before[name] = lookupDump(tab, name)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // queries in flight on the old table
		defer close(done)
		var s Scratch
		for {
			select {
			case <-stop:
				return
			default:
			}
			for name := range before {
				tab.Lookup(name, dns.TypeSRV, &s)
			}
		}
	}()
	r := rand.New(rand.NewPCG(1, 1))
	for step := range 20 {
		next := tab.Update(mutate(r, c, step)) // always from tab
		next.Update(mutate(r, c, step+100))    // and on from the new one
	}
	close(stop)
	<-done
	for name, want := range before {
		if got := lookupDump(tab, name); got != want {
			t.Errorf("%s changed:\n got %s\nwant %s", name, got, want)
		}
	}
}

// namedHostsCluster is smallCluster with an agent and a scheduler known by
// host name, an agent whose name does not resolve, and tasks with raw
// DiscoveryInfo names ("my_service", "api.v2").
func namedHostsCluster() *state.Cluster {
	c := smallCluster()
	out := withTasks(c, slices.Clone(c.Tasks))
	out.Agents[0].Host = "agent-one"
	out.Agents[1].Host = "agent-lost"
	out.Frameworks[0].Host = "sched-host"
	for i, name := range []string{"my_service", "api.v2", "api.v2"} {
		out.Tasks = append(out.Tasks, &state.Task{
			ID: fmt.Sprintf("%s.%d", name, i), Name: "svc", FrameworkID: "fw-marathon", AgentID: out.Agents[i%3].ID,
			State: state.TaskRunning, NetInfo: addrs(fmt.Sprintf("127.0.4.%d", i+1)),
			Ports:     []state.PortRange{{Begin: uint32(31100 + i), End: uint32(31100 + i)}},
			Discovery: &state.Discovery{Name: name, Ports: []state.DiscoveryPort{{Number: 80, Name: "http_port", Protocol: "tcp"}}},
		})
	}
	return out.Seal()
}

// TestUpdateFromAnOlderTable: only the newest table of a line updates in
// place of its bookkeeping; an update from an older one builds afresh, and
// every table answers as a build of its cluster, before and after.
func TestUpdateFromAnOlderTable(t *testing.T) {
	cfg := testConfig()
	r := rand.New(rand.NewPCG(5, 5))
	c0 := genCluster(120)
	t0 := Build(c0, cfg)
	c1 := mutate(r, c0, 1)
	t1 := t0.Update(c1)
	c2 := withTasks(c0, slices.Delete(slices.Clone(c0.Tasks), 3, 4))
	t2 := t0.Update(c2) // t0 is no longer the newest
	if k := updateKind(t0, t2); k != "built" {
		t.Errorf("update from an older table: %s, want built", k)
	}
	sameAnswers(t, t2, Build(c2, cfg))
	c3 := withTasks(c1, slices.Delete(slices.Clone(c1.Tasks), 7, 8))
	t3 := t1.Update(c3)
	if k := updateKind(t1, t3); k != "incremental" {
		t.Errorf("update from the newest table: %s, want incremental", k)
	}
	sameAnswers(t, t3, Build(c3, cfg))
	sameAnswers(t, t1, Build(c1, cfg))
	sameAnswers(t, t0, Build(c0, cfg))
}

// TestPrepareAfterBuild: a built table prepared ahead of its first update
// updates in proportion to the change and answers as a build; Prepare on a
// table another update took over leaves it and its successor alone.
func TestPrepareAfterBuild(t *testing.T) {
	cfg := testConfig()
	c0 := genCluster(120)
	t0 := Build(c0, cfg)
	t0.Prepare()
	if !t0.inc.prepared {
		t.Fatal("Prepare left the built table's bookkeeping unprepared")
	}
	t0.Prepare() // once is enough: nothing changes
	sameAnswers(t, t0, Build(c0, cfg))
	c1 := withTasks(c0, slices.Delete(slices.Clone(c0.Tasks), 3, 4))
	t1 := t0.Update(c1)
	if k := updateKind(t0, t1); k != "incremental" {
		t.Errorf("update of a prepared table: %s, want incremental", k)
	}
	sameAnswers(t, t1, Build(c1, cfg))
	t0.Prepare() // t1 owns the bookkeeping now
	c2 := withTasks(c1, slices.Delete(slices.Clone(c1.Tasks), 7, 8))
	t2 := t1.Update(c2)
	if k := updateKind(t1, t2); k != "incremental" {
		t.Errorf("update after Prepare of an older table: %s, want incremental", k)
	}
	sameAnswers(t, t2, Build(c2, cfg))
	sameAnswers(t, t0, Build(c0, cfg))
}
