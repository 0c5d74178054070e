package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/benchenv"
	"github.com/discovery-mesos/discovery/state"
)

// genCluster builds a cluster shaped like ../shared/tools/genstate.py's: tasks/4
// apps over 3 frameworks and 50 agents, each task with one port resource, a
// NetworkInfo address and a DiscoveryInfo with one named port.
// benchAgents are the 50 agents of the benchmarks' clusters.
func benchAgents() []state.Agent {
	var agents []state.Agent
	for i := range 50 {
		ip := fmt.Sprintf("127.1.%d.%d", i/250, 1+i%250)
		agents = append(agents, state.Agent{
			ID: fmt.Sprintf("a1b2c3d4-0000-4000-8000-%012d-S%d", i, i), Hostname: ip,
			PID: "slave(1)@" + ip + ":5051", Host: ip, Port: 5051, Active: true,
			Ports: []state.PortRange{{Begin: 31000, End: 32000}},
		})
	}
	return agents
}

func genCluster(tasks int) *state.Cluster {
	return shapedCluster(tasks, max(1, tasks/4), benchAgents())
}

// freshnessCluster is shaped like bench/freshness's -apps 1000 -tasks 100:
// apps of perApp tasks each on agents agents.
func freshnessCluster(apps, perApp, agents int) *state.Cluster {
	var as []state.Agent
	for i := range agents {
		ip := fmt.Sprintf("127.1.%d.%d", i/250, 1+i%250)
		as = append(as, state.Agent{
			ID: fmt.Sprintf("a1b2c3d4-0000-4000-8000-%012d-S%d", i, i), Hostname: ip,
			PID: "slave(1)@" + ip + ":5051", Host: ip, Port: 5051, Active: true,
			Ports: []state.PortRange{{Begin: 31000, End: 32000}},
		})
	}
	return shapedCluster(apps*perApp, apps, as)
}

// shapedCluster has tasks spread over apps, three frameworks and agents.
func shapedCluster(tasks, apps int, agents []state.Agent) *state.Cluster {
	r := rand.New(rand.NewPCG(1, 2))
	c := &state.Cluster{
		Leader:  state.Master{ID: "master-id-1", PID: "master@127.0.0.1:15050", Host: "127.0.0.1", Port: 15050},
		Masters: []state.Master{{Host: "127.0.0.1", Port: 15050}},
	}
	c.Agents = agents
	c.Frameworks = append(c.Frameworks, state.Framework{
		ID: "fw-0000-marathon", Name: "marathon", PID: "scheduler-1@127.3.0.1:15101", Host: "127.3.0.1", Port: 15101, Active: true,
	})
	for f := 1; f < 3; f++ {
		ip := fmt.Sprintf("127.3.0.%d", f+1)
		c.Frameworks = append(c.Frameworks, state.Framework{
			ID: fmt.Sprintf("fw-%04d-extra", f), Name: fmt.Sprintf("framework-%d", f),
			PID: fmt.Sprintf("scheduler-%d@%s:15101", f, ip), Host: ip, Port: 15101, Active: true,
		})
	}
	for t := range tasks {
		app := t % apps
		fw := c.Frameworks[0]
		if app%4 == 0 {
			fw = c.Frameworks[app%len(c.Frameworks)]
		}
		ag := c.Agents[r.IntN(len(c.Agents))]
		port := uint32(31000 + r.IntN(1000))
		name := fmt.Sprintf("app-%d", app)
		c.Tasks = append(c.Tasks, &state.Task{
			ID:          fmt.Sprintf("%s.%016x-%d", name, r.Uint64(), t),
			Name:        name,
			FrameworkID: fw.ID,
			AgentID:     ag.ID,
			State:       state.TaskRunning,
			NetInfo:     []netip.Addr{netip.AddrFrom4([4]byte{127, 2, byte((t / 250) % 250), byte(1 + t%250)})},
			Ports:       []state.PortRange{{Begin: port, End: port}},
			Discovery: &state.Discovery{Visibility: "FRAMEWORK", Name: name, Ports: []state.DiscoveryPort{
				{Number: port, Name: "http", Protocol: "tcp"},
			}},
		})
	}
	return c.Seal()
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkBuild measures building a table; MB-table is the heap the table
// keeps (measured once, after a GC, with the cluster already in memory).
func BenchmarkBuild(b *testing.B) {
	for _, shape := range updateShapes {
		b.Run(shape.name, func(b *testing.B) {
			c := shape.cluster()
			cfg := testConfig()
			before := heapInUse()
			tab := Build(c, cfg)
			after := heapInUse()
			records := tab.Records()
			runtime.KeepAlive(tab)
			tab = nil
			b.ReportAllocs()
			cpu0 := benchenv.CPUTime()
			for b.Loop() {
				tab = Build(c, cfg)
			}
			// CPU time per build (process-wide, GC included): steadier than wall
			// time on a loaded machine.
			b.ReportMetric(float64((benchenv.CPUTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			runtime.KeepAlive(tab)
			b.ReportMetric(float64(after-before)/(1<<20), "MB-table")
			b.ReportMetric(float64(records), "records")
		})
	}
}

// lookupMix is the benchmark query mix: task A records, SRV, unknown names.
func lookupMix(c *state.Cluster, n int) []dns.Question {
	qs := make([]dns.Question, 0, n)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		t := c.Tasks[r.IntN(len(c.Tasks))]
		fw := c.Framework(t.FrameworkID).Name
		switch {
		case i%10 < 6:
			qs = append(qs, dns.Question{Name: t.Name + "." + fw + ".mesos.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
		case i%10 < 9:
			qs = append(qs, dns.Question{Name: "_" + t.Name + "._tcp." + fw + ".mesos.", Qtype: dns.TypeSRV, Qclass: dns.ClassINET})
		default:
			qs = append(qs, dns.Question{Name: fmt.Sprintf("nope-%d.%s.mesos.", i, fw), Qtype: dns.TypeA, Qclass: dns.ClassINET})
		}
	}
	return qs
}

func BenchmarkLookup(b *testing.B) {
	c := genCluster(10_000)
	tab := Build(c, testConfig())
	qs := lookupMix(c, 1024)
	var s Scratch
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := &qs[i&1023]
		tab.Lookup(q.Name, q.Qtype, &s)
		i++
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	c := genCluster(2_000)
	tab := Build(c, testConfig())
	qs := lookupMix(c, 256)
	qs = append(qs, dns.Question{Name: "MASTER.Mesos.", Qtype: dns.TypeA}, dns.Question{Name: "mesos.", Qtype: dns.TypeSOA},
		dns.Question{Name: "example.com.", Qtype: dns.TypeA}, dns.Question{Name: "_slave._tcp.mesos.", Qtype: dns.TypeSRV})
	var s Scratch
	for _, q := range qs { // grow the scratch space first
		tab.Lookup(q.Name, q.Qtype, &s)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		q := &qs[i%len(qs)]
		tab.Lookup(q.Name, q.Qtype, &s)
		i++
	})
	if allocs != 0 {
		t.Fatalf("Lookup allocates %.1f times per call", allocs)
	}
}

// updateShapes are BenchmarkUpdate's clusters: genCluster's (four tasks an
// app, 50 agents) and bench/freshness's 100,000 tasks (-apps 1000 -tasks 100,
// 500 agents).
var updateShapes = []struct {
	name    string
	cluster func() *state.Cluster
}{
	{"tasks=10000", func() *state.Cluster { return genCluster(10_000) }},
	{"tasks=100000", func() *state.Cluster { return genCluster(100_000) }},
	{"tasks=100000/apps=1000x100/agents=500", func() *state.Cluster { return freshnessCluster(1000, 100, 500) }},
}

// BenchmarkUpdatedTableHeap reports the heap a table keeps at 100,000 tasks
// (bench/freshness's shape) when built (MB-built) and after 1,000 updates of
// one task killed and one started (MB-updated: what Update keeps with the
// table and the garbage it leaves included), measured after a GC with the
// clusters in memory. Run it with -benchtime 1x.
func BenchmarkUpdatedTableHeap(b *testing.B) {
	c := freshnessCluster(1000, 100, 500)
	other := oneTaskOther(c)
	for b.Loop() {
		h0 := heapInUse()
		tab := Build(c, testConfig())
		built := heapInUse()
		for i := range 1000 {
			tab = tab.Update([2]*state.Cluster{other, c}[i%2])
		}
		updated := heapInUse()
		runtime.KeepAlive(tab)
		b.ReportMetric(float64(built-h0)/(1<<20), "MB-built")
		b.ReportMetric(float64(updated-h0)/(1<<20), "MB-updated")
	}
}

// oneTaskOther is c with its first task killed and another started.
func oneTaskOther(c *state.Cluster) *state.Cluster {
	started := c.Tasks[0]
	started.ID += "-restarted"
	started.NetInfo = []netip.Addr{netip.MustParseAddr("127.9.9.9")}
	other := &state.Cluster{Leader: c.Leader, Masters: c.Masters, Agents: c.Agents, Frameworks: c.Frameworks,
		Tasks: append(slices.Clone(c.Tasks[1:]), started)}
	return other.Seal()
}

// BenchmarkUpdate measures Table.Update for the change the Mesos event stream
// usually brings: one task gone and one started, from the previous table.
func BenchmarkUpdate(b *testing.B) {
	for _, shape := range updateShapes {
		b.Run(shape.name, func(b *testing.B) {
			c := shape.cluster()
			cfg := testConfig()
			// Alternate between two clusters that differ by one task each way.
			clusters := [2]*state.Cluster{c, oneTaskOther(c)}
			tab := Build(c, cfg)
			b.ReportAllocs()
			cpu0 := benchenv.CPUTime()
			i, builds := 0, 0
			for b.Loop() {
				i++
				next := tab.Update(clusters[i%2])
				if next.inc != tab.inc {
					builds++ // afresh: compacting
				}
				tab = next
			}
			b.ReportMetric(float64((benchenv.CPUTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(builds)/float64(b.N), "builds/op")
			b.ReportMetric(float64(tab.inc.compactions)/float64(b.N), "compactions/op")
		})
	}
}
