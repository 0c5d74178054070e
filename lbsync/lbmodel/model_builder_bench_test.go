package lbmodel

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// mesosLBCluster is a sealed Mesos view shaped like internal/sim's (what the
// freshness benchmark runs against): apps × tasks Marathon tasks labelled
// HAPROXY_GROUP=external with a service port and a vhost, host networking,
// one DiscoveryInfo port each, on 50 agents.
func mesosLBCluster(apps, tasks int) *state.Cluster { return mesosLBClusterOn(apps, tasks, 50) }

// mesosLBClusterOn is mesosLBCluster on the given number of agents (at most
// 65,000).
func mesosLBClusterOn(apps, tasks, agents int) *state.Cluster {
	c := &state.Cluster{Frameworks: []state.Framework{{ID: "fw-1", Name: "marathon"}}}
	for i := range agents {
		c.Agents = append(c.Agents, state.Agent{ID: fmt.Sprintf("agent-%03d", i), Host: fmt.Sprintf("127.1.%d.%d", i/250, i%250+1)})
	}
	for a := range apps {
		for t := range tasks {
			x := a*tasks + t
			agent := c.Agents[x%len(c.Agents)]
			port := uint32(31000 + x/len(c.Agents))
			c.Tasks = append(c.Tasks, &state.Task{
				ID:          fmt.Sprintf("sim_app-%04d.%08x-0000-4000-8000-%012x", a, x, x),
				Name:        fmt.Sprintf("app-%04d.sim", a),
				FrameworkID: "fw-1",
				AgentID:     agent.ID,
				State:       state.TaskRunning,
				Labels: []state.Label{{Key: "HAPROXY_0_PORT", Value: fmt.Sprint(10000 + a)},
					{Key: "HAPROXY_0_VHOST", Value: fmt.Sprintf("app-%04d.sim.localhost", a)},
					{Key: "HAPROXY_GROUP", Value: "external"}},
				NetInfo:      []netip.Addr{netip.MustParseAddr(agent.Host)},
				Ports:        []state.PortRange{{Begin: port, End: port}},
				Discovery:    &state.Discovery{Visibility: "FRAMEWORK", Name: "app", Ports: []state.DiscoveryPort{{Number: port, Name: "http", Protocol: "tcp"}}},
				RunningSince: time.Unix(1_700_000_000, 0),
			})
		}
	}
	return c.Seal()
}

// BenchmarkBuildFromMesosOneTaskChange measures the load balancer's work for
// a snapshot of a 10,000-task Mesos view (1,000 apps) that differs from the
// previous one in one task (its health), as the event stream delivers them:
// the daemon's ModelBuilder (apps derived from the view, then the model),
// then the plan against the previous model (what goes to the Runtime API)
// and the render of the config written after it. "scratch-apps" is the
// builder as it was: every app derived and digested again per snapshot.
func BenchmarkBuildFromMesosOneTaskChange(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Groups = []string{"external"}
	ts, err := LoadTemplates(cfg, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	base := mesosLBCluster(1000, 10)
	snaps := make([]*state.Snapshot, 64)
	for i := range snaps {
		c := base
		if i%2 == 1 {
			n := &state.Cluster{Agents: base.Agents, Frameworks: base.Frameworks, Tasks: slices.Clone(base.Tasks)}
			h := false
			statetest.OwnTask(n.Tasks, (i*7919)%len(n.Tasks)).Healthy = &h
			c = n.Seal()
		}
		snaps[i] = &state.Snapshot{Cluster: c, Seq: uint64(i + 1)}
	}
	scratch := func() BuildFunc {
		cache := NewModelCache()
		return func(snap *state.Snapshot, opts *BuildOptions) (*Model, error) {
			apps := SnapshotApps(snap)
			return cache.Build(apps, AppDigests(apps), cfg, ts, opts)
		}
	}
	run := func(b *testing.B, build BuildFunc, plan, render bool) {
		prev, err := build(snaps[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(prev.Errors) > 0 || len(prev.Frontends) == 0 {
			b.Fatalf("model: %d frontends, errors %v", len(prev.Frontends), prev.Errors)
		}
		b.ReportAllocs()
		i := 1
		for b.Loop() {
			m, err := build(snaps[i%len(snaps)], &BuildOptions{Previous: prev})
			if err != nil {
				b.Fatal(err)
			}
			if plan {
				if p := ComputePlan(prev, m); len(p.Reload) > 0 {
					b.Fatalf("snapshot %d needs a reload: %v", i, p.Reload)
				}
			}
			if render {
				if _, err := Render(m); err != nil {
					b.Fatal(err)
				}
			}
			prev = m
			i++
		}
	}
	b.Run("scratch-apps", func(b *testing.B) { run(b, scratch(), false, false) })
	b.Run("build", func(b *testing.B) { run(b, ModelBuilder(cfg, func() *Templates { return ts }, nil), false, false) })
	b.Run("build+plan", func(b *testing.B) { run(b, ModelBuilder(cfg, func() *Templates { return ts }, nil), true, false) })
	b.Run("build+plan+render", func(b *testing.B) { run(b, ModelBuilder(cfg, func() *Templates { return ts }, nil), true, true) })
}

// BenchmarkLBOneTaskChange100k measures what the syncer does per snapshot of
// a 100,000-task Mesos view (1,000 apps × 100 tasks on 500 agents, the
// freshness benchmark's large shape) that differs from the previous one in
// one task (killed, or back), short of the I/O: the daemon's ModelBuilder (apps, model,
// VIPs), the plan against the running model, the Runtime API commands, and
// the config to write, compared with the running one.
//
//	go test ./lbsync/lbmodel -run '^$' -bench LBOneTaskChange100k -benchmem
func BenchmarkLBOneTaskChange100k(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Groups = []string{"external"}
	ts, err := LoadTemplates(cfg, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	base := mesosLBClusterOn(1000, 100, 500)
	snaps := make([]*state.Snapshot, 16)
	for i := range snaps {
		c := base
		if i%2 == 1 {
			n := &state.Cluster{Agents: base.Agents, Frameworks: base.Frameworks, Tasks: slices.Clone(base.Tasks)}
			statetest.OwnTask(n.Tasks, (i*7919)%len(n.Tasks)).State = state.TaskKilling
			c = n.Seal()
		}
		snaps[i] = &state.Snapshot{Cluster: c, Seq: uint64(i + 1)}
	}
	build := ModelBuilder(cfg, func() *Templates { return ts }, nil)
	prev, err := build(snaps[0], nil)
	if err != nil {
		b.Fatal(err)
	}
	if len(prev.Errors) > 0 || len(prev.Frontends) == 0 {
		b.Fatalf("model: %d frontends, errors %v", len(prev.Frontends), prev.Errors)
	}
	r := NewRenderer()
	prevText, err := r.RenderText(prev)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 1
	var cmd []byte
	for b.Loop() {
		m, err := build(snaps[i%len(snaps)], &BuildOptions{Previous: prev})
		if err != nil {
			b.Fatal(err)
		}
		p := ComputePlan(prev, m)
		if len(p.Reload) > 0 || len(p.Runtime) == 0 {
			b.Fatalf("snapshot %d: plan %v", i, p)
		}
		for _, op := range p.Runtime {
			cmd = AppendServerLine(cmd[:0], &op.Server)
		}
		text, err := r.RenderText(m)
		if err != nil {
			b.Fatal(err)
		}
		if text.Equal(prevText) {
			b.Fatalf("snapshot %d: the same config", i)
		}
		prev, prevText = m, text
		i++
	}
	b.ReportMetric(float64(prevText.Len()), "config-bytes")
}
