package lbsync

import (
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// BenchmarkSyncerOneTaskChange100k measures the syncer's whole work per
// snapshot of a 100,000-task Mesos view (1,000 apps × 100 tasks on 500
// agents, the freshness benchmark's large shape, built as the daemon's
// ModelBuilder builds it) that differs from the previous one in one task
// (killed, or back): model, VIPs, plan, Runtime API, render and the config
// file's rewrite, into a real HAProxy. ns/op is from the push of a snapshot
// until the syncer processed it; cpu-ms/op is the process's CPU time (user
// and system, HAProxy's not included).
//
//	go test ./lbsync -run '^$' -bench SyncerOneTaskChange100k -benchtime 100x -benchmem
func BenchmarkSyncerOneTaskChange100k(b *testing.B) {
	rm := &realModel{}
	e := newLBEnv(b, withRealModel(b, rm), func(o *SyncerOptions) {
		o.ArchiveKeep = 0
		o.Build = lbmodel.ModelBuilder(rm.cfg, func() *lbmodel.Templates { return rm.ts }, nil)
	})
	base := benchCluster100k()
	views := make([]*state.Cluster, 16)
	for i := range views {
		views[i] = base
		if i%2 == 1 {
			n := &state.Cluster{Agents: base.Agents, Frameworks: base.Frameworks, Tasks: slices.Clone(base.Tasks)}
			statetest.OwnTask(n.Tasks, (i*7919)%len(n.Tasks)).State = state.TaskKilling
			views[i] = n.Seal()
		}
	}
	push := func(c *state.Cluster) uint64 {
		e.mu.Lock()
		e.seq++
		seq := e.seq
		e.mu.Unlock()
		e.snaps <- &state.Snapshot{Seq: seq, Cluster: c}
		return seq
	}
	e.wait(push(views[0]))
	if st := e.s.Status(); st.Servers != 100_000 || len(st.LeftOut) > 0 {
		b.Fatalf("%d servers, left out %v", st.Servers, st.LeftOut)
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ReportAllocs()
	start := cpu()
	i := 1
	for b.Loop() {
		e.wait(push(views[i%len(views)]))
		if st := e.s.Status(); st.Via != "runtime" {
			b.Fatalf("snapshot %d applied via %q", i, st.Via)
		}
		i++
	}
	b.ReportMetric(float64(cpu()-start)/float64(time.Millisecond)/float64(i-1), "cpu-ms/op")
}

// benchCluster100k is the sealed view of BenchmarkSyncerOneTaskChange100k:
// Marathon's tasks labelled HAPROXY_GROUP=external with a service port and a
// vhost, host networking, one DiscoveryInfo port each.
func benchCluster100k() *state.Cluster {
	const apps, tasks, agents = 1000, 100, 500
	c := &state.Cluster{Frameworks: []state.Framework{{ID: "fw-1", Name: "marathon"}}}
	for i := range agents {
		c.Agents = append(c.Agents, state.Agent{ID: fmt.Sprintf("agent-%03d", i), Host: fmt.Sprintf("127.1.%d.%d", i/250, i%250+1)})
	}
	for x := range apps * tasks {
		a, ag := x/tasks, &c.Agents[x%agents]
		port := uint32(31000 + x/agents)
		c.Tasks = append(c.Tasks, &state.Task{
			ID: fmt.Sprintf("sim_app-%04d.%08x-0000-4000-8000-%012x", a, x, x), Name: fmt.Sprintf("app-%04d.sim", a),
			FrameworkID: "fw-1", AgentID: ag.ID, State: state.TaskRunning,
			Labels: []state.Label{{Key: "HAPROXY_0_PORT", Value: fmt.Sprint(20000 + a)},
				{Key: "HAPROXY_0_VHOST", Value: fmt.Sprintf("app-%04d.sim.localhost", a)},
				{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "HAPROXY_0_BIND_ADDR", Value: "127.0.1.1"}},
			NetInfo:      []netip.Addr{netip.MustParseAddr(ag.Host)},
			Ports:        []state.PortRange{{Begin: port, End: port}},
			Discovery:    &state.Discovery{Name: "app", Ports: []state.DiscoveryPort{{Number: port, Name: "http", Protocol: "tcp"}}},
			RunningSince: time.Unix(1_700_000_000, 0),
		})
	}
	return c.Seal()
}
