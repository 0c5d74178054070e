package vips

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/discovery-mesos/discovery/state"
)

var (
	yes = true
	no  = false
)

func marathonApp(id string, vip string, mode string, tasks ...state.AppTask) state.App {
	labels := map[string]string{}
	if mode != "" {
		labels["HAPROXY_0_MODE"] = mode
	}
	return state.App{
		ID: id, Labels: labels, Network: state.NetworkHost,
		Ports:        []state.AppPort{{ServicePort: 10000, Protocol: "tcp", Labels: map[string]string{"VIP_0": vip}}},
		HealthChecks: []state.HealthCheck{{Protocol: "HTTP"}},
		Tasks:        tasks,
	}
}

func appTask(id, host string, port int, health ...bool) state.AppTask {
	return state.AppTask{ID: id, Host: host, Ports: []int{port}, State: state.TaskRunning, Health: health}
}

func TestBuildFromMarathonApps(t *testing.T) {
	snap := &state.Snapshot{Apps: &state.AppSet{Apps: []state.App{
		marathonApp("/group/web", "/group/web:80", "http",
			appTask("web.1", "127.1.0.1", 31000, true),
			appTask("web.2", "127.1.0.2", 31001, false), // unhealthy
			appTask("web.3", "127.1.0.3", 31002),        // no result yet
		),
		marathonApp("/db", "10.20.0.1:5432", "",
			appTask("db.1", "127.1.0.4", 31003, true),
			state.AppTask{ID: "db.2", Host: "127.1.0.5", Ports: []int{31004}, State: state.TaskStaging, Health: []bool{true}},
		),
		marathonApp("/bad", "nocolon", ""),
	}}}
	set := Build(snap, Config{})
	webAddr := Build(&state.Snapshot{Apps: &state.AppSet{Apps: []state.App{marathonApp("/other", "/group/web:80", "")}}}, Config{}).VIPs[0].Addr
	want := []VIP{
		{Name: "/group/web", DNSName: "groupweb.marathon", Addr: webAddr, Port: 80, Protocol: "tcp", Mode: "http", Apps: []string{"/group/web"},
			Backends: []Backend{{Host: netip.MustParseAddr("127.1.0.1"), Port: 31000, TaskID: "web.1", AppID: "/group/web"}}},
		{Addr: netip.MustParseAddr("10.20.0.1"), Port: 5432, Protocol: "tcp", Mode: "tcp", Apps: []string{"/db"},
			Backends: []Backend{{Host: netip.MustParseAddr("127.1.0.4"), Port: 31003, TaskID: "db.1", AppID: "/db"}}},
	}
	if want[1].Addr.Compare(want[0].Addr) < 0 {
		want[0], want[1] = want[1], want[0]
	}
	if d := cmp.Diff(want, set.VIPs, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("VIPs (-want +got):\n%s", d)
	}
	if len(set.LeftOut) != 1 || set.LeftOut[0].ID != "/bad" {
		t.Errorf("left out %v, want /bad only", set.LeftOut)
	}
}

func TestBuildSameNamesSameAddressesAcrossSnapshots(t *testing.T) {
	// Two hosts with different views (other tasks, other apps) but the same
	// VIP names agree on every address.
	a := Build(&state.Snapshot{Apps: &state.AppSet{Apps: []state.App{
		marathonApp("/a", "/svc-a:80", "", appTask("a.1", "127.1.0.1", 31000, true)),
		marathonApp("/b", "svc-b:443", ""),
	}}}, Config{})
	b := Build(&state.Snapshot{Apps: &state.AppSet{Apps: []state.App{
		marathonApp("/b2", "svc-b:8443", "", appTask("b.9", "127.1.0.9", 31009, true)),
		marathonApp("/z", "/svc-a:80", ""),
	}}}, Config{})
	addr := func(s *Set, name string) netip.Addr {
		for _, v := range s.VIPs {
			if v.DNSName == name {
				return v.Addr
			}
		}
		t.Fatalf("no VIP %s in %+v", name, s.VIPs)
		return netip.Addr{}
	}
	for _, n := range []string{"svc-a.marathon", "svc-b.marathon"} {
		if addr(a, n) != addr(b, n) {
			t.Errorf("%s: %v on one host, %v on the other", n, addr(a, n), addr(b, n))
		}
	}
}

func TestBuildFromMesosTasks(t *testing.T) {
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "ag1", Host: "127.1.0.1"}},
		Frameworks: []state.Framework{{ID: "fw1", Name: "marathon"}, {ID: "fw2", Name: "kafka"}},
		Tasks: []*state.Task{
			{ID: "web.marathon-1", Name: "web", FrameworkID: "fw1", AgentID: "ag1", State: state.TaskRunning,
				Ports: []state.PortRange{{Begin: 31000, End: 31000}},
				Discovery: &state.Discovery{Ports: []state.DiscoveryPort{{Number: 31000, Protocol: "tcp",
					Labels: []state.Label{{Key: "VIP_0", Value: "/web:80"}}}}}},
			{ID: "broker-0", Name: "broker", FrameworkID: "fw2", AgentID: "ag1", State: state.TaskRunning, Healthy: &yes,
				NetInfo: []netip.Addr{netip.MustParseAddr("127.9.0.1")},
				Discovery: &state.Discovery{Ports: []state.DiscoveryPort{{Number: 9092, Protocol: "tcp",
					Labels: []state.Label{{Key: "VIP_0", Value: "broker:9092"}}}}}},
			{ID: "broker-1", Name: "broker", FrameworkID: "fw2", AgentID: "ag1", State: state.TaskRunning, Healthy: &no,
				NetInfo: []netip.Addr{netip.MustParseAddr("127.9.0.2")},
				Discovery: &state.Discovery{Ports: []state.DiscoveryPort{{Number: 9092, Protocol: "tcp",
					Labels: []state.Label{{Key: "VIP_0", Value: "broker:9092"}}}}}},
			{ID: "dns-0", Name: "dns", FrameworkID: "fw2", AgentID: "ag1", State: state.TaskRunning,
				Discovery: &state.Discovery{Ports: []state.DiscoveryPort{{Number: 53, Protocol: "udp",
					Labels: []state.Label{{Key: "VIP_0", Value: "dns:53"}}}}}},
		},
	}).Seal()

	// Without Marathon: every framework's tasks.
	set := Build(&state.Snapshot{Cluster: c}, Config{})
	got := map[string][]Backend{}
	for _, v := range set.VIPs {
		got[v.DNSName] = v.Backends
	}
	want := map[string][]Backend{
		"web.marathon": {{Host: netip.MustParseAddr("127.1.0.1"), Port: 31000, TaskID: "web.marathon-1", AppID: "web"}},
		"broker.kafka": {{Host: netip.MustParseAddr("127.9.0.1"), Port: 9092, TaskID: "broker-0", AppID: "broker"}},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("backends (-want +got):\n%s", d)
	}
	if len(set.LeftOut) != 1 || set.LeftOut[0].ID != "dns-0" {
		t.Errorf("left out %v, want the UDP port of dns-0", set.LeftOut)
	}

	// With Marathon: Marathon's tasks come from its apps, not from Mesos;
	// so do those of a Marathon under another framework name, known by
	// their task ids.
	set = Build(&state.Snapshot{Cluster: c, Apps: &state.AppSet{Apps: []state.App{{ID: "/broker", Tasks: []state.AppTask{{ID: "broker-0"}}}}}}, Config{})
	for _, v := range set.VIPs {
		if v.DNSName == "web.marathon" {
			t.Errorf("Marathon task read from Mesos too: %+v", v)
		}
		if v.DNSName == "broker.kafka" && len(v.Backends) != 0 {
			t.Errorf("a task of Marathon's apps read from Mesos too: %+v", v)
		}
	}
}

func TestBuildExcludesApps(t *testing.T) {
	snap := &state.Snapshot{Apps: &state.AppSet{Apps: []state.App{
		marathonApp("/a", "/shared:80", "", appTask("a.1", "127.1.0.1", 31000, true)),
		marathonApp("/b", "/shared:80", "", appTask("b.1", "127.1.0.2", 31001, true)),
	}}}
	set := Build(snap, Config{Exclude: map[string]bool{"/a": true}})
	if len(set.VIPs) != 1 || len(set.VIPs[0].Backends) != 1 || set.VIPs[0].Backends[0].AppID != "/b" {
		t.Errorf("VIPs %+v, want /shared with /b's task only", set.VIPs)
	}
}
