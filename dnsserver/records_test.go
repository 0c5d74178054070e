package dnsserver

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

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
		Tasks: []state.Task{
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

type lookupCase struct {
	qname  string
	qtype  uint16
	rcode  int
	answer []string // RR strings, compared sorted
	extra  []string
}

func runLookups(t *testing.T, tab *Table, cases []lookupCase) {
	t.Helper()
	var s Scratch
	for _, tc := range cases {
		t.Run(tc.qname+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			res := tab.Lookup(tc.qname, tc.qtype, &s)
			if !res.InZone {
				t.Fatalf("not in zone")
			}
			if res.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[res.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got := rrStrings(res.Answer); !slices.Equal(got, sorted(tc.answer)) {
				t.Errorf("answer:\n got %q\nwant %q", got, sorted(tc.answer))
			}
			if tc.extra != nil {
				if got := rrStrings(res.Extra); !slices.Equal(got, sorted(tc.extra)) {
					t.Errorf("extra:\n got %q\nwant %q", got, sorted(tc.extra))
				}
			}
		})
	}
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
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
	ok, nx := dns.RcodeSuccess, dns.RcodeNameError
	runLookups(t, tab, []lookupCase{
		// Task names: task IP from IPSources (netinfo, mesos, host).
		{"nginx.marathon.mesos.", A, ok, []string{
			"nginx.marathon.mesos. 60 IN A 127.0.1.1",
			"nginx.marathon.mesos. 60 IN A 127.0.3.2",
		}, nil},
		{"nginx.marathon.mesos.", AAAA, ok, []string{"nginx.marathon.mesos. 60 IN AAAA fd00::2"}, nil},
		{c1 + ".marathon.mesos.", A, ok, []string{c1 + ".marathon.mesos. 60 IN A 127.0.1.1"}, nil},
		{c2 + ".marathon.mesos.", A, ok, []string{c2 + ".marathon.mesos. 60 IN A 127.0.3.2"}, nil},
		// Agent names.
		{"nginx.marathon.slave.mesos.", A, ok, []string{
			"nginx.marathon.slave.mesos. 60 IN A 127.0.1.1",
			"nginx.marathon.slave.mesos. 60 IN A 127.0.1.2",
		}, nil},
		{c2 + ".marathon.slave.mesos.", A, ok, []string{c2 + ".marathon.slave.mesos. 60 IN A 127.0.1.2"}, nil},
		// Case is kept from the question.
		{"NGINX.Marathon.MESOS.", AAAA, ok, []string{"NGINX.Marathon.MESOS. 60 IN AAAA fd00::2"}, nil},
		// SRV from port resources, with the targets' addresses as extra records.
		{"_nginx._tcp.marathon.mesos.", SRV, ok, []string{
			"_nginx._tcp.marathon.mesos. 60 IN SRV 0 1 31000 " + c1 + ".marathon.slave.mesos.",
			"_nginx._tcp.marathon.mesos. 60 IN SRV 0 1 31001 " + c1 + ".marathon.slave.mesos.",
			"_nginx._tcp.marathon.mesos. 60 IN SRV 0 1 31005 " + c2 + ".marathon.slave.mesos.",
		}, []string{
			c1 + ".marathon.slave.mesos. 60 IN A 127.0.1.1",
			c2 + ".marathon.slave.mesos. 60 IN A 127.0.1.2",
		}},
		{"_nginx._udp.marathon.slave.mesos.", SRV, ok, []string{
			"_nginx._udp.marathon.slave.mesos. 60 IN SRV 0 1 31000 " + c1 + ".marathon.slave.mesos.",
			"_nginx._udp.marathon.slave.mesos. 60 IN SRV 0 1 31001 " + c1 + ".marathon.slave.mesos.",
			"_nginx._udp.marathon.slave.mesos. 60 IN SRV 0 1 31005 " + c2 + ".marathon.slave.mesos.",
		}, nil},
		// DiscoveryInfo: name from DiscoveryInfo, SRV to the task name for its ports.
		{"web.marathon.mesos.", A, ok, []string{"web.marathon.mesos. 60 IN A 127.0.3.3"}, nil},
		{"web-app.marathon.mesos.", A, nx, nil, nil},
		{"_web._tcp.marathon.mesos.", SRV, ok, []string{
			"_web._tcp.marathon.mesos. 60 IN SRV 0 1 80 " + cw + ".marathon.mesos.",
			"_web._tcp.marathon.mesos. 60 IN SRV 0 1 53 " + cw + ".marathon.mesos.",
		}, []string{cw + ".marathon.mesos. 60 IN A 127.0.3.3"}},
		{"_web._udp.marathon.mesos.", SRV, ok, []string{
			"_web._udp.marathon.mesos. 60 IN SRV 0 1 53 " + cw + ".marathon.mesos.",
		}, nil},
		{"_http._web._tcp.marathon.mesos.", SRV, ok, []string{
			"_http._web._tcp.marathon.mesos. 60 IN SRV 0 1 80 " + cw + ".marathon.mesos.",
		}, nil},
		// With DiscoveryInfo, port resources only give .slave SRV records.
		{"_web._tcp.marathon.slave.mesos.", SRV, ok, []string{
			"_web._tcp.marathon.slave.mesos. 60 IN SRV 0 1 31010 " + cw + ".marathon.slave.mesos.",
		}, nil},
		// IPv6 agent: host IP source gives AAAA.
		{"v6.marathon.mesos.", AAAA, ok, []string{"v6.marathon.mesos. 60 IN AAAA 2001:db8::3"}, nil},
		{"v6.marathon.mesos.", A, ok, nil, nil},
		// Not running, unknown agent: nothing.
		{"staging.marathon.mesos.", A, nx, nil, nil},
		{"lost.marathon.mesos.", A, nx, nil, nil},
		// Framework name sanitised per label; framework records.
		{"report-job.chronos-2-0-1.mesos.", A, nx, nil, nil},
		{"report-job.chronos2.0.1.mesos.", A, ok, []string{"report-job.chronos2.0.1.mesos. 60 IN A 127.0.1.2"}, nil},
		{"marathon.mesos.", A, ok, []string{"marathon.mesos. 60 IN A 127.0.2.1"}, nil},
		{"chronos2.0.1.mesos.", A, ok, []string{"chronos2.0.1.mesos. 60 IN A 127.0.2.2"}, nil},
		{"_framework._tcp.marathon.mesos.", SRV, ok, []string{
			"_framework._tcp.marathon.mesos. 60 IN SRV 0 1 8080 marathon.mesos.",
		}, []string{"marathon.mesos. 60 IN A 127.0.2.1"}},
		// No PID, no SRV.
		{"_framework._tcp.chronos2.0.1.mesos.", SRV, nx, nil, nil},
		// Masters and agents.
		{"leader.mesos.", A, ok, []string{"leader.mesos. 60 IN A 127.0.0.1"}, nil},
		{"master.mesos.", A, ok, []string{
			"master.mesos. 60 IN A 127.0.0.1", "master.mesos. 60 IN A 127.0.0.2", "master.mesos. 60 IN A 127.0.0.3",
		}, nil},
		{"master0.mesos.", A, ok, []string{"master0.mesos. 60 IN A 127.0.0.1"}, nil},
		{"master2.mesos.", A, ok, []string{"master2.mesos. 60 IN A 127.0.0.3"}, nil},
		{"master3.mesos.", A, nx, nil, nil},
		{"_leader._tcp.mesos.", SRV, ok, []string{"_leader._tcp.mesos. 60 IN SRV 0 1 5050 leader.mesos."},
			[]string{"leader.mesos. 60 IN A 127.0.0.1"}},
		{"_leader._udp.mesos.", SRV, ok, []string{"_leader._udp.mesos. 60 IN SRV 0 1 5050 leader.mesos."}, nil},
		{"_master._tcp.mesos.", SRV, ok, []string{
			"_master._tcp.mesos. 60 IN SRV 0 1 5050 master0.mesos.",
			"_master._tcp.mesos. 60 IN SRV 0 1 5050 master1.mesos.",
			"_master._tcp.mesos. 60 IN SRV 0 1 5050 master2.mesos.",
		}, nil},
		{"slave.mesos.", A, ok, []string{
			"slave.mesos. 60 IN A 127.0.1.1", "slave.mesos. 60 IN A 127.0.1.2",
		}, nil},
		{"slave.mesos.", AAAA, ok, []string{"slave.mesos. 60 IN AAAA 2001:db8::3"}, nil},
		{"_slave._tcp.mesos.", SRV, ok, []string{"_slave._tcp.mesos. 60 IN SRV 0 1 5051 slave.mesos."}, nil},
		// The name server and the apex.
		{"ns1.mesos.", A, ok, []string{"ns1.mesos. 60 IN A 127.0.0.53"}, nil},
		{"mesos.", dns.TypeSOA, ok, []string{"mesos. 60 IN SOA ns1.mesos. root.ns1.mesos. 1 60 600 86400 60"}, nil},
		{"mesos.", dns.TypeNS, ok, []string{"mesos. 60 IN NS ns1.mesos."}, nil},
		{"mesos.", A, ok, nil, nil},
		// Empty non-terminals exist (NODATA); unknown names do not.
		{"marathon.slave.mesos.", A, ok, nil, nil},
		{"_tcp.marathon.mesos.", SRV, ok, nil, nil},
		{"unknown.marathon.mesos.", A, nx, nil, nil},
		{"unknown.marathon.mesos.", SRV, nx, nil, nil},
		// SOA/NS below the apex: NODATA or NXDOMAIN, never an answer.
		{"nginx.marathon.mesos.", dns.TypeSOA, ok, nil, nil},
		{"nope.mesos.", dns.TypeNS, nx, nil, nil},
		// Unsupported type on an existing name: NODATA.
		{"nginx.marathon.mesos.", dns.TypeTXT, ok, nil, nil},
		// ANY: one RRset.
		{"v6.marathon.mesos.", dns.TypeANY, ok, []string{"v6.marathon.mesos. 60 IN AAAA 2001:db8::3"}, nil},
		// Without the final dot (HTTP API style) the name still matches.
		{"leader.mesos", A, ok, []string{"leader.mesos 60 IN A 127.0.0.1"}, nil},
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
		Tasks: []state.Task{{
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
		{[]string{"netinfo", "mesos", "host"}, []string{"127.0.5.1", "fd00::9"}},
		{[]string{"docker", "host"}, []string{"127.0.6.1", "fd00::6"}},
		{[]string{"host"}, []string{"127.0.1.1"}},
		{[]string{"netinfo"}, []string{"fd00::9"}},
		{[]string{"host", "netinfo"}, []string{"127.0.1.1", "fd00::9"}},
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
		Tasks: []state.Task{
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
	// The long framework got a shortened fragment and still has records.
	found := false
	for rr := range tab.All() {
		if strings.Contains(rr.Header().Name, "fffff") && rr.Header().Rrtype == dns.TypeSRV {
			found = true
		}
	}
	if !found {
		t.Error("no SRV records under the long framework")
	}
}

func TestEnforceRFC952(t *testing.T) {
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "x-S0", Host: "127.0.1.1"}},
		Frameworks: []state.Framework{{ID: "f", Name: "marathon-0.6.0-dev"}},
		Tasks:      []state.Task{{ID: "t", Name: "4pod_123$abc", FrameworkID: "f", AgentID: "x-S0", State: state.TaskRunning}},
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
