package dnsserver

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/dnstest"
	"github.com/discovery-mesos/discovery/state"
)

// testConfig is mesos-dns's defaults with a fixed serial and name server address.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.SOASerial = 1
	cfg.NameServerAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.53")}
	return cfg
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// smallCluster is a hand-made cluster covering the naming scheme: a Marathon
// app with two instances, a task with DiscoveryInfo, an IPv6 agent, a
// non-running task and a task on an unknown agent.
func smallCluster() *state.Cluster {
	c := &state.Cluster{
		Leader: state.Master{ID: "m1", PID: "master@127.0.0.1:5050", Host: "127.0.0.1", Port: 5050},
		Masters: []state.Master{
			{Host: "127.0.0.1", Port: 5050},
			{Host: "127.0.0.2", Port: 5050},
			{Host: "127.0.0.3", Port: 5050},
		},
		Agents: []state.Agent{
			{ID: "20160101-000000-0000-S1", PID: "slave(1)@127.0.1.1:5051", Host: "127.0.1.1", Port: 5051},
			{ID: "20160101-000000-0000-S2", PID: "slave(1)@127.0.1.2:5051", Host: "127.0.1.2", Port: 5051},
			{ID: "20160101-000000-0000-S3", PID: "slave(1)@[2001:db8::3]:5051", Host: "2001:db8::3", Port: 5051},
		},
		Frameworks: []state.Framework{
			{ID: "fw-marathon", Name: "marathon", PID: "scheduler(1)@127.0.2.1:8080", Host: "127.0.2.1", Port: 8080},
			{ID: "fw-chronos", Name: "Chronos 2.0.1", Hostname: "127.0.2.2"},
		},
		Tasks: []*state.Task{
			{
				ID: "nginx.48dccce7-90bc-11e6-ae70-70b3d5800001", Name: "nginx",
				FrameworkID: "fw-marathon", AgentID: "20160101-000000-0000-S1", State: state.TaskRunning,
				Ports: []state.PortRange{{Begin: 31000, End: 31001}},
			},
			{
				ID: "nginx.58dccce7-90bc-11e6-ae70-70b3d5800001", Name: "nginx",
				FrameworkID: "fw-marathon", AgentID: "20160101-000000-0000-S2", State: state.TaskRunning,
				NetInfo: addrs("127.0.3.2", "fd00::2"),
				Ports:   []state.PortRange{{Begin: 31005, End: 31005}},
			},
			{
				ID: "web.1", Name: "web.app", FrameworkID: "fw-marathon", AgentID: "20160101-000000-0000-S1",
				State:   state.TaskRunning,
				NetInfo: addrs("127.0.3.3"),
				Ports:   []state.PortRange{{Begin: 31010, End: 31010}},
				Discovery: &state.Discovery{Name: "web", Ports: []state.DiscoveryPort{
					{Number: 80, Name: "http", Protocol: "tcp"},
					{Number: 53, Name: "", Protocol: ""},
				}},
			},
			{
				ID: "v6.1", Name: "v6", FrameworkID: "fw-marathon", AgentID: "20160101-000000-0000-S3",
				State: state.TaskRunning,
			},
			{
				ID: "staging.1", Name: "staging", FrameworkID: "fw-marathon", AgentID: "20160101-000000-0000-S1",
				State: state.TaskStaging,
			},
			{
				ID: "lost.1", Name: "lost", FrameworkID: "fw-marathon", AgentID: "unknown-agent",
				State: state.TaskRunning,
			},
			{
				ID: "job.1", Name: "Report_Job", FrameworkID: "fw-chronos", AgentID: "20160101-000000-0000-S2",
				State: state.TaskRunning,
			},
		},
	}
	return c.Seal()
}

// hash5 is the canonical-name hash of a task ID.
func hash5(id string) string { return string(appendHash5(nil, id)) }

func TestHashMatchesMesosDNS(t *testing.T) {
	// From mesos-dns's own tests and docs.
	for id, want := range map[string]string{
		"test": "iffe9",
		"nginx.48dccce7-90bc-11e6-ae70-70b3d5800001": "jhy6r",
	} {
		if got := hash5(id); got != want {
			t.Errorf("hash(%q) = %q, want %q", id, got, want)
		}
	}
}

// runLookups asks tab each case's question and compares the rcode and the
// answer; the additional records only when the case gives them (nil Extra is
// not checked here). Table lookups have no authority section.
func runLookups(t *testing.T, tab *Table, cases []dnstest.Case) {
	t.Helper()
	var s Scratch
	for _, tc := range cases {
		t.Run(tc.Name(), func(t *testing.T) {
			res := tab.Lookup(tc.Qname, tc.Qtype, &s)
			if !res.InZone {
				t.Fatalf("not in zone")
			}
			if res.Rcode != tc.Rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[res.Rcode], dns.RcodeToString[tc.Rcode])
			}
			dnstest.CheckSection(t, "answer", res.Answer, tc.Answer)
			if tc.Extra != nil {
				dnstest.CheckSection(t, "extra", res.Extra, tc.Extra)
			}
		})
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

func TestLookupSmallCluster(t *testing.T) {
	tab := Build(smallCluster(), testConfig())
	h1 := hash5("nginx.48dccce7-90bc-11e6-ae70-70b3d5800001")
	h2 := hash5("nginx.58dccce7-90bc-11e6-ae70-70b3d5800001")
	hw := hash5("web.1")
	c1 := "nginx-" + h1 + "-s1"
	c2 := "nginx-" + h2 + "-s2"
	cw := "web-" + hw + "-s1"
	A, AAAA, SRV := dns.TypeA, dns.TypeAAAA, dns.TypeSRV
	nx := dns.RcodeNameError
	runLookups(t, tab, []dnstest.Case{
		// Task names: task IP from IPSources (netinfo, mesos, host).
		{Qname: "nginx.marathon.mesos.", Qtype: A,
			Answer: []dns.RR{
				dnstest.A("nginx.marathon.mesos. 60 IN A 127.0.1.1"),
				dnstest.A("nginx.marathon.mesos. 60 IN A 127.0.3.2"),
			},
		},
		{Qname: "nginx.marathon.mesos.", Qtype: AAAA, Answer: []dns.RR{dnstest.AAAA("nginx.marathon.mesos. 60 IN AAAA fd00::2")}},
		{Qname: c1 + ".marathon.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A(c1 + ".marathon.mesos. 60 IN A 127.0.1.1")}},
		{Qname: c2 + ".marathon.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A(c2 + ".marathon.mesos. 60 IN A 127.0.3.2")}},
		// Agent names.
		{Qname: "nginx.marathon.slave.mesos.", Qtype: A,
			Answer: []dns.RR{
				dnstest.A("nginx.marathon.slave.mesos. 60 IN A 127.0.1.1"),
				dnstest.A("nginx.marathon.slave.mesos. 60 IN A 127.0.1.2"),
			},
		},
		{Qname: c2 + ".marathon.slave.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A(c2 + ".marathon.slave.mesos. 60 IN A 127.0.1.2")}},
		// Case is kept from the question.
		{Qname: "NGINX.Marathon.MESOS.", Qtype: AAAA, Answer: []dns.RR{dnstest.AAAA("NGINX.Marathon.MESOS. 60 IN AAAA fd00::2")}},
		// SRV from port resources, with the targets' addresses as extra records.
		{Qname: "_nginx._tcp.marathon.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_nginx._tcp.marathon.mesos. 60 IN SRV 0 1 31000 " + c1 + ".marathon.slave.mesos."),
				dnstest.SRV("_nginx._tcp.marathon.mesos. 60 IN SRV 0 1 31001 " + c1 + ".marathon.slave.mesos."),
				dnstest.SRV("_nginx._tcp.marathon.mesos. 60 IN SRV 0 1 31005 " + c2 + ".marathon.slave.mesos."),
			},
			Extra: []dns.RR{
				dnstest.A(c1 + ".marathon.slave.mesos. 60 IN A 127.0.1.1"),
				dnstest.A(c2 + ".marathon.slave.mesos. 60 IN A 127.0.1.2"),
			},
		},
		{Qname: "_nginx._udp.marathon.slave.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_nginx._udp.marathon.slave.mesos. 60 IN SRV 0 1 31000 " + c1 + ".marathon.slave.mesos."),
				dnstest.SRV("_nginx._udp.marathon.slave.mesos. 60 IN SRV 0 1 31001 " + c1 + ".marathon.slave.mesos."),
				dnstest.SRV("_nginx._udp.marathon.slave.mesos. 60 IN SRV 0 1 31005 " + c2 + ".marathon.slave.mesos."),
			},
		},
		// DiscoveryInfo: name from DiscoveryInfo, SRV to the task name for its ports.
		{Qname: "web.marathon.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A("web.marathon.mesos. 60 IN A 127.0.3.3")}},
		{Qname: "web-app.marathon.mesos.", Qtype: A, Rcode: nx},
		{Qname: "_web._tcp.marathon.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_web._tcp.marathon.mesos. 60 IN SRV 0 1 80 " + cw + ".marathon.mesos."),
				dnstest.SRV("_web._tcp.marathon.mesos. 60 IN SRV 0 1 53 " + cw + ".marathon.mesos."),
			},
			Extra: []dns.RR{
				dnstest.A(cw + ".marathon.mesos. 60 IN A 127.0.3.3"),
			},
		},
		{Qname: "_web._udp.marathon.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_web._udp.marathon.mesos. 60 IN SRV 0 1 53 " + cw + ".marathon.mesos."),
			},
		},
		{Qname: "_http._web._tcp.marathon.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_http._web._tcp.marathon.mesos. 60 IN SRV 0 1 80 " + cw + ".marathon.mesos."),
			},
		},
		// With DiscoveryInfo, port resources only give .slave SRV records.
		{Qname: "_web._tcp.marathon.slave.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_web._tcp.marathon.slave.mesos. 60 IN SRV 0 1 31010 " + cw + ".marathon.slave.mesos."),
			},
		},
		// IPv6 agent: host IP source gives AAAA.
		{Qname: "v6.marathon.mesos.", Qtype: AAAA, Answer: []dns.RR{dnstest.AAAA("v6.marathon.mesos. 60 IN AAAA 2001:db8::3")}},
		{Qname: "v6.marathon.mesos.", Qtype: A},
		// Not running, unknown agent: nothing.
		{Qname: "staging.marathon.mesos.", Qtype: A, Rcode: nx},
		{Qname: "lost.marathon.mesos.", Qtype: A, Rcode: nx},
		// Framework name sanitised per label; framework records.
		{Qname: "report-job.chronos-2-0-1.mesos.", Qtype: A, Rcode: nx},
		{Qname: "report-job.chronos2.0.1.mesos.", Qtype: A,
			Answer: []dns.RR{
				dnstest.A("report-job.chronos2.0.1.mesos. 60 IN A 127.0.1.2"),
			},
		},
		{Qname: "marathon.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A("marathon.mesos. 60 IN A 127.0.2.1")}},
		{Qname: "chronos2.0.1.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A("chronos2.0.1.mesos. 60 IN A 127.0.2.2")}},
		{Qname: "_framework._tcp.marathon.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_framework._tcp.marathon.mesos. 60 IN SRV 0 1 8080 marathon.mesos."),
			},
			Extra: []dns.RR{
				dnstest.A("marathon.mesos. 60 IN A 127.0.2.1"),
			},
		},
		// No PID, no SRV.
		{Qname: "_framework._tcp.chronos2.0.1.mesos.", Qtype: SRV, Rcode: nx},
		// Masters and agents.
		{Qname: "leader.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A("leader.mesos. 60 IN A 127.0.0.1")}},
		{Qname: "master.mesos.", Qtype: A,
			Answer: []dns.RR{
				dnstest.A("master.mesos. 60 IN A 127.0.0.1"),
				dnstest.A("master.mesos. 60 IN A 127.0.0.2"),
				dnstest.A("master.mesos. 60 IN A 127.0.0.3"),
			},
		},
		{Qname: "master0.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A("master0.mesos. 60 IN A 127.0.0.1")}},
		{Qname: "master2.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A("master2.mesos. 60 IN A 127.0.0.3")}},
		{Qname: "master3.mesos.", Qtype: A, Rcode: nx},
		{Qname: "_leader._tcp.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_leader._tcp.mesos. 60 IN SRV 0 1 5050 leader.mesos."),
			},
			Extra: []dns.RR{
				dnstest.A("leader.mesos. 60 IN A 127.0.0.1"),
			},
		},
		{Qname: "_leader._udp.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_leader._udp.mesos. 60 IN SRV 0 1 5050 leader.mesos."),
			},
		},
		{Qname: "_master._tcp.mesos.", Qtype: SRV,
			Answer: []dns.RR{
				dnstest.SRV("_master._tcp.mesos. 60 IN SRV 0 1 5050 master0.mesos."),
				dnstest.SRV("_master._tcp.mesos. 60 IN SRV 0 1 5050 master1.mesos."),
				dnstest.SRV("_master._tcp.mesos. 60 IN SRV 0 1 5050 master2.mesos."),
			},
		},
		{Qname: "slave.mesos.", Qtype: A,
			Answer: []dns.RR{
				dnstest.A("slave.mesos. 60 IN A 127.0.1.1"),
				dnstest.A("slave.mesos. 60 IN A 127.0.1.2"),
			},
		},
		{Qname: "slave.mesos.", Qtype: AAAA, Answer: []dns.RR{dnstest.AAAA("slave.mesos. 60 IN AAAA 2001:db8::3")}},
		{Qname: "_slave._tcp.mesos.", Qtype: SRV, Answer: []dns.RR{dnstest.SRV("_slave._tcp.mesos. 60 IN SRV 0 1 5051 slave.mesos.")}},
		// The name server and the apex.
		{Qname: "ns1.mesos.", Qtype: A, Answer: []dns.RR{dnstest.A("ns1.mesos. 60 IN A 127.0.0.53")}},
		{Qname: "mesos.", Qtype: dns.TypeSOA,
			Answer: []dns.RR{
				dnstest.SOA("mesos. 60 IN SOA ns1.mesos. root.ns1.mesos. 1 60 600 86400 60"),
			},
		},
		{Qname: "mesos.", Qtype: dns.TypeNS, Answer: []dns.RR{dnstest.NS("mesos. 60 IN NS ns1.mesos.")}},
		{Qname: "mesos.", Qtype: A},
		// Empty non-terminals exist (NODATA); unknown names do not.
		{Qname: "marathon.slave.mesos.", Qtype: A},
		{Qname: "_tcp.marathon.mesos.", Qtype: SRV},
		{Qname: "unknown.marathon.mesos.", Qtype: A, Rcode: nx},
		{Qname: "unknown.marathon.mesos.", Qtype: SRV, Rcode: nx},
		// SOA/NS below the apex: NODATA or NXDOMAIN, never an answer.
		{Qname: "nginx.marathon.mesos.", Qtype: dns.TypeSOA},
		{Qname: "nope.mesos.", Qtype: dns.TypeNS, Rcode: nx},
		// Unsupported type on an existing name: NODATA.
		{Qname: "nginx.marathon.mesos.", Qtype: dns.TypeTXT},
		// ANY: one RRset.
		{Qname: "v6.marathon.mesos.", Qtype: dns.TypeANY, Answer: []dns.RR{dnstest.AAAA("v6.marathon.mesos. 60 IN AAAA 2001:db8::3")}},
		// Without the final dot (HTTP API style) the name still matches.
		// (Zone file text would make the owner absolute: the record is written out.)
		{Qname: "leader.mesos", Qtype: A, Answer: []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: "leader.mesos", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   net.IPv4(127, 0, 0, 1).To4(),
		}}},
	})
}

func TestLookupOutOfZone(t *testing.T) {
	tab := Build(smallCluster(), testConfig())
	var s Scratch
	for _, q := range []string{"example.com.", "xmesos.", "mesos.example.", ".", strings.Repeat("a.", 200) + "com.", `x\.mesos.`, `x\\\.mesos.`} {
		if res := tab.Lookup(q, dns.TypeA, &s); res.InZone {
			t.Errorf("%q: in zone", q)
		}
		if tab.InZone(q) {
			t.Errorf("InZone(%q)", q)
		}
	}
	if !tab.InZone("Foo.MESOS") || !tab.InZone("mesos.") || !tab.InZone(`x\\.mesos.`) {
		t.Error("zone names not in zone")
	}
}

func TestBuildNilCluster(t *testing.T) {
	tab := Build(nil, testConfig())
	var s Scratch
	if res := tab.Lookup("ns1.mesos.", dns.TypeA, &s); len(res.Answer) != 1 {
		t.Fatalf("ns1: %v", res.Answer)
	}
	if res := tab.Lookup("leader.mesos.", dns.TypeA, &s); res.Rcode != dns.RcodeNameError {
		t.Fatalf("leader: rcode %d", res.Rcode)
	}
	if tab.Records() != 3 || tab.Names() != 1 {
		t.Fatalf("records %d names %d", tab.Records(), tab.Names())
	}
}

func TestIPSourcesOrder(t *testing.T) {
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "a-S0", Host: "127.0.1.1", Port: 5051}},
		Frameworks: []state.Framework{{ID: "f", Name: "marathon"}},
		Tasks: []*state.Task{{
			ID: "t", Name: "app", FrameworkID: "f", AgentID: "a-S0", State: state.TaskRunning,
			NetInfo: addrs("fd00::9"),
			Mesos:   addrs("127.0.5.1"),
			Docker:  addrs("127.0.6.1", "fd00::6"),
		}},
	}).Seal()
	for _, tc := range []struct {
		sources []string
		want    []string
	}{
		// Every address of the first source that has any, never two
		// sources' together (mesos-dns upstream master).
		{[]string{"netinfo", "mesos", "host"}, []string{"fd00::9"}},
		{[]string{"mesos", "netinfo"}, []string{"127.0.5.1"}},
		{[]string{"docker", "host"}, []string{"127.0.6.1", "fd00::6"}},
		{[]string{"host"}, []string{"127.0.1.1"}},
		{[]string{"netinfo"}, []string{"fd00::9"}},
		{[]string{"host", "netinfo"}, []string{"127.0.1.1"}},
		{[]string{"bogus"}, nil},
	} {
		t.Run(strings.Join(tc.sources, ","), func(t *testing.T) {
			cfg := testConfig()
			cfg.IPSources = tc.sources
			tab := Build(c, cfg)
			var got []string
			for _, a := range tab.addrs("app.marathon.mesos.") {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMasterNumbering(t *testing.T) {
	// mesos-dns's TestMasterRecord cases, as masters lists of a cluster.
	m := func(hp string) state.Master {
		ap := netip.MustParseAddrPort(hp)
		return state.Master{Host: ap.Addr().String(), Port: int(ap.Port())}
	}
	for _, tc := range []struct {
		name    string
		leader  string
		masters []string
		want    map[string][]string // name -> addresses
	}{
		{"leader only", "127.0.0.6:7", nil, map[string][]string{
			"leader": {"127.0.0.6"}, "master": {"127.0.0.6"}, "master0": {"127.0.0.6"}}},
		{"ipv6 leader", "[2001:db8::1]:7", nil, map[string][]string{
			"leader": {"2001:db8::1"}, "master": {"2001:db8::1"}, "master0": {"2001:db8::1"}}},
		{"leader not listed", "127.0.0.6:7", []string{"127.0.0.8:9"}, map[string][]string{
			"master": {"127.0.0.6", "127.0.0.8"}, "master0": {"127.0.0.8"}, "master1": {"127.0.0.6"}}},
		{"duplicates", "127.0.0.6:7", []string{"127.0.0.8:9", "127.0.0.8:9"}, map[string][]string{
			"master": {"127.0.0.6", "127.0.0.8"}, "master0": {"127.0.0.8"}, "master1": {"127.0.0.6"}}},
		{"leader last", "127.0.0.6:7", []string{"127.0.0.8:9", "127.0.0.6:7", "127.0.0.6:7"}, map[string][]string{
			"master": {"127.0.0.6", "127.0.0.8"}, "master0": {"127.0.0.8"}, "master1": {"127.0.0.6"}, "master2": nil}},
		{"leader middle", "127.0.0.6:7", []string{"127.0.0.8:9", "127.0.0.6:7", "[2001:db8::1]:0"}, map[string][]string{
			"master": {"127.0.0.6", "127.0.0.8", "2001:db8::1"}, "master0": {"127.0.0.8"},
			"master1": {"127.0.0.6"}, "master2": {"2001:db8::1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &state.Cluster{Leader: m(tc.leader)}
			for _, s := range tc.masters {
				c.Masters = append(c.Masters, m(s))
			}
			tab := Build(c.Seal(), testConfig())
			for name, want := range tc.want {
				var got []string
				for _, a := range tab.addrs(name + ".mesos.") {
					got = append(got, a.String())
				}
				slices.Sort(got)
				want = sorted(want)
				if len(want) == 0 {
					want = nil
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: got %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestLongNamesAreShortened(t *testing.T) {
	long := strings.Repeat("a", 63)
	longFw := strings.Repeat("f", 60) + "." + strings.Repeat("g", 60) + "." + strings.Repeat("h", 60)
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "x-S7", Host: "127.0.1.1", Port: 5051}},
		Frameworks: []state.Framework{{ID: "f", Name: "marathon"}, {ID: "g", Name: longFw}},
		Tasks: []*state.Task{
			{ID: "t1", Name: long, FrameworkID: "f", AgentID: "x-S7", State: state.TaskRunning,
				Ports: []state.PortRange{{Begin: 1, End: 1}},
				Discovery: &state.Discovery{Name: long, Ports: []state.DiscoveryPort{
					{Number: 80, Name: strings.Repeat("p", 70), Protocol: "tcp"},
					{Number: 81, Protocol: strings.Repeat("x", 70)}}}},
			{ID: "t2", Name: long, FrameworkID: "g", AgentID: "x-S7", State: state.TaskRunning,
				Ports: []state.PortRange{{Begin: 2, End: 2}}},
		},
	}).Seal()
	tab := Build(c, testConfig())
	canon := string(appendShortLabel(nil, []byte(long+"-"+hash5("t1")+"-s7")))
	if len(canon) != 63 || !strings.HasPrefix(canon, long[:57]+"-") {
		t.Fatalf("canonical label %q", canon)
	}
	var s Scratch
	for _, q := range []string{
		long + ".marathon.mesos.",
		canon + ".marathon.mesos.",
		canon + ".marathon.slave.mesos.",
	} {
		if res := tab.Lookup(q, dns.TypeA, &s); len(res.Answer) != 1 {
			t.Errorf("%s: %v", q, res.Answer)
		}
	}
	under := string(appendShortLabel(nil, []byte("_"+long)))
	res := tab.Lookup(under+"._tcp.marathon.mesos.", dns.TypeSRV, &s)
	if len(res.Answer) != 1 {
		t.Errorf("SRV %s: %v", under, res.Answer)
	}
	// Every name in the table is valid, and packs.
	n := 0
	for rr := range tab.All() {
		n++
		name := rr.Header().Name
		if !validName([]byte(name)) {
			t.Errorf("invalid name %q", name)
		}
		msg := new(dns.Msg)
		msg.Answer = []dns.RR{rr}
		if _, err := msg.Pack(); err != nil {
			t.Errorf("pack %s: %v", rr, err)
		}
	}
	if n != tab.Records() {
		t.Errorf("All yielded %d records, Records() = %d", n, tab.Records())
	}
	// A 70-character protocol becomes a shortened "_x…" label.
	proto := string(appendShortLabel(nil, []byte("_"+SanitizeLabel(strings.Repeat("x", 70), false))))
	if res := tab.Lookup(under+"."+proto+".marathon.mesos.", dns.TypeSRV, &s); len(res.Answer) != 1 {
		t.Errorf("SRV with long protocol: %v", res.Answer)
	}
	// The long framework keeps its name, as in mesos-dns: the names on it
	// that fit are served (252 octets), those that do not (its canonical
	// and SRV names) are not, since no client could ask for them.
	if res := tab.Lookup(long+"."+longFw+".mesos.", dns.TypeA, &s); len(res.Answer) != 1 {
		t.Errorf("A of a 252-octet name under the long framework: %v", res.Answer)
	}
	for rr := range tab.All() {
		if n := rr.Header().Name; strings.Contains(n, longFw) && len(n) > 254 {
			t.Errorf("name over 253 octets served: %q", n)
		}
	}
}

// Issue 12: a DiscoveryInfo name is served as given too, as mesos-dns
// serves it, where a client can ask for it: with "_", with dots; not with
// capitals (mesos-dns lowercases the question, so those never matched).
func TestLegacyDiscoveryNames(t *testing.T) {
	task := func(id, name string) *state.Task {
		return &state.Task{ID: id, Name: "app", FrameworkID: "f", AgentID: "x-S1", State: state.TaskRunning,
			NetInfo:   addrs("127.0.5.1"),
			Discovery: &state.Discovery{Name: name, Ports: []state.DiscoveryPort{{Number: 80, Name: "http", Protocol: "tcp"}}}}
	}
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "x-S1", Host: "127.0.1.1"}},
		Frameworks: []state.Framework{{ID: "f", Name: "marathon"}},
		Tasks:      []*state.Task{task("t1", "my_service"), task("t2", "api.v2"), task("t3", "Web_Front")},
	}).Seal()
	tab := Build(c, testConfig())
	var s Scratch
	for _, tc := range []struct {
		name  string
		qtype uint16
		n     int
	}{
		{"my_service.marathon.mesos.", dns.TypeA, 1},
		{"my-service.marathon.mesos.", dns.TypeA, 1}, // the sanitised name
		{"_my_service._tcp.marathon.mesos.", dns.TypeSRV, 1},
		{"_http._my_service._tcp.marathon.mesos.", dns.TypeSRV, 1},
		{"my_service-" + hash5("t1") + "-s1.marathon.mesos.", dns.TypeA, 1},
		{"api.v2.marathon.mesos.", dns.TypeA, 1},
		{"_api.v2._tcp.marathon.mesos.", dns.TypeSRV, 1},
		{"api-v2.marathon.mesos.", dns.TypeA, 1},
		{"web-front.marathon.mesos.", dns.TypeA, 1},
		{"web_front.marathon.mesos.", dns.TypeA, 0},
	} {
		if res := tab.Lookup(tc.name, tc.qtype, &s); len(res.Answer) != tc.n {
			t.Errorf("%s %s: %v, want %d answers", tc.name, dns.TypeToString[tc.qtype], res.Answer, tc.n)
		}
	}
	// The dotted name's canonical name, api.v2-hash-s1, has a parent with
	// no records of its own: it exists (NODATA), and so does it after an
	// Update that changes another task.
	ent := "v2-" + hash5("t2") + "-s1.marathon.mesos."
	next := (&state.Cluster{Agents: c.Agents, Frameworks: c.Frameworks, Tasks: c.Tasks[:2]}).Seal()
	for name, tab := range map[string]*Table{"built": tab, "updated": tab.Update(next)} {
		if res := tab.Lookup(ent, dns.TypeA, &s); res.Rcode != dns.RcodeSuccess || len(res.Answer) != 0 {
			t.Errorf("%s: %s A: %s %v, want NODATA", name, ent, dns.RcodeToString[res.Rcode], res.Answer)
		}
	}
}

func TestEnforceRFC952(t *testing.T) {
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "x-S0", Host: "127.0.1.1"}},
		Frameworks: []state.Framework{{ID: "f", Name: "marathon-0.6.0-dev"}},
		Tasks:      []*state.Task{{ID: "t", Name: "4pod_123$abc", FrameworkID: "f", AgentID: "x-S0", State: state.TaskRunning}},
	}).Seal()
	cfg := testConfig()
	var s Scratch
	if res := Build(c, cfg).Lookup("4pod-123abc.marathon-0.6.0-dev.mesos.", dns.TypeA, &s); len(res.Answer) != 1 {
		t.Errorf("RFC 1123: %v", res.Answer)
	}
	cfg.EnforceRFC952 = true
	if res := Build(c, cfg).Lookup("pod-123abc.marathon-0.dev.mesos.", dns.TypeA, &s); len(res.Answer) != 1 {
		t.Errorf("RFC 952: %v", res.Answer)
	}
}

func TestDuplicateRecordsCollapse(t *testing.T) {
	c := smallCluster()
	tab := Build(c, testConfig())
	var s Scratch
	// Both nginx tasks' agents give the same slave SRV target and port.
	res := tab.Lookup("_slave._tcp.mesos.", dns.TypeSRV, &s)
	if len(res.Answer) != 1 {
		t.Fatalf("got %d SRV records, want 1", len(res.Answer))
	}
}
