package lbmodel

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// TestBuildFromMesos: apps derived from Mesos tasks (no Marathon) render
// like Marathon's: grouped by app, addressed by agent, served on the
// HAPROXY_{n}_PORT or DiscoveryInfo port.
func TestBuildFromMesos(t *testing.T) {
	running := time.Unix(1000, 0)
	label := func(kv ...string) []state.Label {
		var ls []state.Label
		for i := 0; i+1 < len(kv); i += 2 {
			ls = append(ls, state.Label{Key: kv[i], Value: kv[i+1]})
		}
		return ls
	}
	disco := func(ports ...uint32) *state.Discovery {
		d := &state.Discovery{Name: "x"}
		for _, p := range ports {
			d.Ports = append(d.Ports, state.DiscoveryPort{Number: p, Protocol: "tcp"})
		}
		return d
	}
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "a1", Host: "127.0.1.1"}, {ID: "a2", Host: "127.0.1.2"}},
		Frameworks: []state.Framework{{ID: "m", Name: "marathon"}},
		Tasks: []*state.Task{
			{ID: "web.1", FrameworkID: "m", AgentID: "a1", State: state.TaskRunning, RunningSince: running,
				Labels: label("HAPROXY_GROUP", "external", "HAPROXY_0_PORT", "10080", "HAPROXY_0_VHOST", "web.example.com"), Discovery: disco(31000)},
			{ID: "web.2", FrameworkID: "m", AgentID: "a2", State: state.TaskRunning, RunningSince: running,
				Labels: label("HAPROXY_GROUP", "external", "HAPROXY_0_PORT", "10080", "HAPROXY_0_VHOST", "web.example.com"), Discovery: disco(31007)},
			{ID: "ippt.1", FrameworkID: "m", AgentID: "a1", State: state.TaskRunning, RunningSince: running,
				Labels: label("HAPROXY_GROUP", "external"), Discovery: disco(8080), NetInfo: []netip.Addr{netip.MustParseAddr("127.0.9.1")}},
		},
	}).Seal()
	cfg := testConfig()
	m := mustBuild(t, AppsFromMesos(c), cfg, mustTemplates(t, cfg, "", nil), nil)
	if got := backendNames(m); !slices.Equal(got, []string{"ippt_8080", "web_10080"}) {
		t.Fatalf("backends %v (errors %v)", got, m.Errors)
	}
	if got := serverAddrs(m, "web_10080"); !slices.Equal(got, []string{"127.0.1.1:31000", "127.0.1.2:31007"}) {
		t.Errorf("web servers %v", got)
	}
	if got := serverAddrs(m, "ippt_8080"); !slices.Equal(got, []string{"127.0.9.1:8080"}) {
		t.Errorf("ippt servers %v", got)
	}
	checkHAProxy(t, m, mustRender(t, m))
}

func TestSnapshotApps(t *testing.T) {
	marathon := &state.AppSet{Apps: []state.App{{ID: "/from-marathon"}}}
	cluster := (&state.Cluster{
		Agents: []state.Agent{{ID: "a1", Host: "127.0.1.1"}},
		Tasks: []*state.Task{{ID: "mesos.1", AgentID: "a1", State: state.TaskRunning,
			Labels: []state.Label{{Key: "HAPROXY_GROUP", Value: "x"}}}},
	}).Seal()
	if got := SnapshotApps(&state.Snapshot{Apps: marathon, Cluster: cluster}); len(got) != 1 || got[0].ID != "/from-marathon" {
		t.Errorf("with Marathon: %v", got)
	}
	if got := SnapshotApps(&state.Snapshot{Cluster: cluster}); len(got) != 1 || got[0].ID != "/mesos" {
		t.Errorf("Mesos only: %v", got)
	}
	if SnapshotApps(&state.Snapshot{}) != nil || SnapshotApps(nil) != nil {
		t.Error("empty snapshot")
	}
}
