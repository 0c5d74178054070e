package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/state"
)

// hsGenCluster builds a cluster shaped like ../shared/tools/genstate.py's: n
// running tasks of n/4 apps over 3 frameworks and 50 agents, each task with a
// container address and one port. It returns the names the benchmark asks for.
func hsGenCluster(n int) (c *state.Cluster, taskNames, srvNames []string) {
	r := rand.New(rand.NewPCG(1, 2))
	apps := max(1, n/4)
	c = &state.Cluster{
		Source:    "bench",
		FetchedAt: time.Unix(1700000000, 0),
		Leader:    state.Master{ID: "master-id-1", Hostname: "127.0.0.1", PID: "master@127.0.0.1:15050", Host: "127.0.0.1", Port: 15050},
	}
	c.Masters = []state.Master{c.Leader}
	c.Agents = benchAgents()
	fws := []string{"marathon", "framework-1", "framework-2"}
	for i, name := range fws {
		c.Frameworks = append(c.Frameworks, state.Framework{
			ID: fmt.Sprintf("fw-%04d", i), Name: name, Hostname: fmt.Sprintf("127.3.0.%d", i+1),
			PID: fmt.Sprintf("scheduler-1@127.3.0.%d:15101", i+1), Host: fmt.Sprintf("127.3.0.%d", i+1), Port: 15101, Active: true,
		})
	}
	seen := map[string]bool{}
	for t := range n {
		app := t % apps
		fw := 0
		if app%4 == 0 {
			fw = app % len(fws)
		}
		ag := r.IntN(len(c.Agents))
		port := uint32(31000 + r.IntN(1000))
		name := fmt.Sprintf("app-%d", app)
		c.Tasks = append(c.Tasks, &state.Task{
			ID: fmt.Sprintf("%s.%016x-%d", name, r.Uint64(), t), Name: name,
			FrameworkID: c.Frameworks[fw].ID, AgentID: c.Agents[ag].ID, State: state.TaskRunning,
			NetInfo: []netip.Addr{netip.AddrFrom4([4]byte{127, 2, byte((t / 250) % 250), byte(1 + t%250)})},
			Ports:   []state.PortRange{{Begin: port, End: port}},
			Discovery: &state.Discovery{Visibility: "FRAMEWORK", Name: name,
				Ports: []state.DiscoveryPort{{Number: port, Name: "http", Protocol: "tcp"}}},
		})
		if !seen[name] {
			seen[name] = true
			taskNames = append(taskNames, name+"."+fws[fw]+".mesos.")
			srvNames = append(srvNames, "_"+name+"._tcp."+fws[fw]+".mesos.")
		}
	}
	return c.Seal(), taskNames, srvNames
}

// hsQueryMix returns queries in the benchmark mix: 60% A for tasks, 30% SRV,
// 10% names that do not exist.
func hsQueryMix(taskNames, srvNames []string, n int) []*dns.Msg {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]*dns.Msg, 0, n)
	for i := range n {
		var q *dns.Msg
		switch k := i % 10; {
		case k < 6:
			q = new(dns.Msg).SetQuestion(taskNames[r.IntN(len(taskNames))], dns.TypeA)
		case k < 9:
			q = new(dns.Msg).SetQuestion(srvNames[r.IntN(len(srvNames))], dns.TypeSRV)
		default:
			q = new(dns.Msg).SetQuestion(fmt.Sprintf("nope-%d.marathon.mesos.", i), dns.TypeA)
		}
		out = append(out, q)
	}
	return out
}

// BenchmarkHandlerLookup is the lookup path: table lookup, building the reply
// and packing it, for already parsed queries. It must report 0 allocs/op.
func BenchmarkHandlerLookup(b *testing.B) {
	c, tn, sn := hsGenCluster(10000)
	h := NewHandler(hsTables(b, c, DefaultConfig()), nil, HandlerConfig{}, nil)
	for _, mix := range []struct {
		name string
		qs   []*dns.Msg
	}{
		{"mix", hsQueryMix(tn, sn, 4096)},
		{"A", hsQueryMix(tn, sn, 4096)[:1]},
		{"SRV", hsQueryMix(tn, sn, 4096)[6:7]},
		{"NXDOMAIN", hsQueryMix(tn, sn, 4096)[9:10]},
	} {
		b.Run(mix.name, func(b *testing.B) {
			qc := newQueryCtx()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := mix.qs[i%len(mix.qs)]
				i++
				if h.answer(req, qc) != actReply {
					b.Fatal("not answered")
				}
				if _, err := h.pack(qc, dns.MinMsgSize); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandlePacket is what the UDP loop does per packet between reading
// and writing: unpack, look up, pack.
func BenchmarkHandlePacket(b *testing.B) {
	c, tn, sn := hsGenCluster(10000)
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0"}, hsTables(b, c, DefaultConfig()), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var pkts [][]byte
	for _, q := range hsQueryMix(tn, sn, 4096) {
		p, err := q.Pack()
		if err != nil {
			b.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	qc := newQueryCtx()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		out, fwd := s.handlePacket(pkts[i%len(pkts)], loopback, qc)
		i++
		if out == nil || fwd != nil {
			b.Fatal("not answered")
		}
	}
}

// TestHandlerLookupAllocatesNothing checks the allocation-free lookup path:
// looking a query up and building its reply allocate nothing for any query of
// the mix, and packing allocates nothing for answers that fit uncompressed (A,
// AAAA, negative answers). Compressed answers (SRV with glue) allocate only
// miekg/dns's compression map while packing.
func TestHandlerLookupAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-task table")
	}
	c, tn, sn := hsGenCluster(10000)
	h := NewHandler(hsTables(t, c, DefaultConfig()), nil, HandlerConfig{}, nil)
	qs := hsQueryMix(tn, sn, 200)
	qc := newQueryCtx()
	for _, q := range qs { // warm up the scratch space
		h.answer(q, qc)
		_, _ = h.pack(qc, dns.MinMsgSize)
	}
	i := 0
	if allocs := testing.AllocsPerRun(1000, func() {
		h.answer(qs[i%len(qs)], qc)
		i++
	}); allocs != 0 {
		t.Errorf("%v allocations per lookup, want 0", allocs)
	}
	var plain []*dns.Msg
	for _, q := range qs {
		if q.Question[0].Qtype != dns.TypeSRV {
			plain = append(plain, q)
		}
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		h.answer(plain[i%len(plain)], qc)
		i++
		if _, err := h.pack(qc, dns.MinMsgSize); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per A or NXDOMAIN query looked up and packed, want 0", allocs)
	}
}

// TestHandlePacketAllocatesNothing checks the UDP hot path: once every name of
// the mix has been asked, answering a query packet of the mix (A, SRV with
// glue, NXDOMAIN; with and without EDNS) allocates nothing.
func TestHandlePacketAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-task table")
	}
	c, tn, sn := hsGenCluster(10000)
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0"}, hsTables(t, c, DefaultConfig()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for i, q := range hsQueryMix(tn, sn, 500) {
		if i%2 == 0 {
			q.SetEdns0(1232, i%4 == 0)
		}
		p, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	qc := newQueryCtx()
	for _, p := range pkts { // the first question for each name builds its reply
		if out, fwd := s.handlePacket(p, loopback, qc); out == nil || fwd != nil {
			t.Fatal("not answered")
		}
	}
	i := 0
	if allocs := testing.AllocsPerRun(2000, func() {
		s.handlePacket(pkts[i%len(pkts)], loopback, qc)
		i++
	}); allocs != 0 {
		t.Errorf("%v allocations per query packet, want 0", allocs)
	}
}
