package vips

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

// benchCluster is n Marathon tasks on 100 agents, each with a DiscoveryInfo
// port; every labelled-th task's port carries a VIP label (0: none).
func benchCluster(n, labelled int) *state.Cluster {
	c := &state.Cluster{Frameworks: []state.Framework{{ID: "fw", Name: "marathon"}}}
	for i := range 100 {
		c.Agents = append(c.Agents, state.Agent{ID: fmt.Sprintf("a%d", i), Host: netip.AddrFrom4([4]byte{127, 1, 0, byte(i + 1)}).String()})
	}
	for i := range n {
		p := state.DiscoveryPort{Number: uint32(31000 + i%1000), Protocol: "tcp"}
		if labelled > 0 && i%labelled == 0 {
			p.Labels = []state.Label{{Key: "VIP_0", Value: fmt.Sprintf("/app-%d:80", i/10)}}
		}
		c.Tasks = append(c.Tasks, &state.Task{
			ID: fmt.Sprintf("app-%d.marathon-%d", i/10, i), Name: "app", FrameworkID: "fw", AgentID: fmt.Sprintf("a%d", i%100),
			State: state.TaskRunning, Ports: []state.PortRange{{Begin: p.Number, End: p.Number}},
			Labels:    []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}},
			Discovery: &state.Discovery{Name: "app", Ports: []state.DiscoveryPort{p}},
		})
	}
	return c.Seal()
}

// BenchmarkBuild: the VIPs of a 10,000-task view, as the load balancer's
// model builder derives them for every snapshot.
func BenchmarkBuild(b *testing.B) {
	for _, bc := range []struct {
		name      string
		labelled  int
		wantNames int
	}{{"10k-tasks-no-vips", 0, 0}, {"10k-tasks-1k-vip-tasks", 10, 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			snap := &state.Snapshot{Cluster: benchCluster(10000, bc.labelled)}
			if got := len(Build(snap, Config{}).VIPs); got != bc.wantNames {
				b.Fatalf("%d VIPs, want %d", got, bc.wantNames)
			}
			b.ReportAllocs()
			for b.Loop() {
				Build(snap, Config{})
			}
		})
	}
}

// BenchmarkBuilderOneTaskChange: the VIPs of a 100,000-task view (none
// labelled, or 1,000 labelled tasks) that differs from the previous one in one
// task, from scratch (Build) and incrementally (Builder).
func BenchmarkBuilderOneTaskChange(b *testing.B) {
	for _, bc := range []struct {
		name     string
		labelled int
	}{{"100k-tasks-no-vips", 0}, {"100k-tasks-1k-vip-tasks", 100}} {
		base := benchCluster(100_000, bc.labelled)
		views := make([]*state.Snapshot, 16)
		for i := range views {
			c := base
			if i%2 == 1 {
				n := &state.Cluster{Agents: base.Agents, Frameworks: base.Frameworks, Tasks: slices.Clone(base.Tasks)}
				n.Tasks[(i*7919)%len(n.Tasks)].State = state.TaskKilling
				c = n.Seal()
			}
			views[i] = &state.Snapshot{Cluster: c}
		}
		for _, way := range []string{"build", "builder"} {
			b.Run(bc.name+"/"+way, func(b *testing.B) {
				var bl Builder
				build := Build
				if way == "builder" {
					build = bl.Build
				}
				build(views[0], Config{})
				b.ReportAllocs()
				i := 1
				for b.Loop() {
					build(views[i%len(views)], Config{})
					i++
				}
			})
		}
	}
}
