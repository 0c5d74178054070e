package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/internal/sim"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/mesos"
)

// The daemon's DNS path alone, in process: the time from a task change at the
// simulated master to a DNS table that answers with (or without) it, through
// the Mesos event stream, the hub (the daemon's default coalescing: deliver at
// once, at most 200 ms late) and Table.Update as the daemon's buildTables runs
// it, on a 10,000-task cluster. No HAProxy, no load balancer, no sockets
// between the table and the question: what main.go measures end to end, less
// those.

// dnsPath runs the DNS half of the daemon: it keeps tab up to date with the
// hub's snapshots and pokes built after each table.
func dnsPath(ctx context.Context, hub *state.Hub, tab *atomic.Pointer[dnsserver.Table], built chan<- struct{}) {
	sub := hub.Subscribe()
	var last *state.Cluster
	for {
		var snap *state.Snapshot
		select {
		case <-ctx.Done():
			return
		case snap = <-sub:
		}
		if snap.Cluster == nil || snap.Cluster == last {
			continue
		}
		last = snap.Cluster
		tab.Store(tab.Load().Update(snap.Cluster))
		select {
		case built <- struct{}{}:
		default:
		}
	}
}

// srvHas reports whether the table's SRV answer for the app lists the task at addr.
func srvHas(t *dnsserver.Table, s *dnsserver.Scratch, app sim.App, want string) bool {
	res := t.Lookup("_"+app.TaskName+"._tcp.marathon.mesos.", dns.TypeSRV, s)
	ips := map[string]string{}
	for _, rr := range res.Extra {
		if a, ok := rr.(*dns.A); ok {
			ips[a.Hdr.Name] = a.A.String()
		}
	}
	for _, rr := range res.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			if ips[srv.Target]+":"+itoa(int(srv.Port)) == want {
				return true
			}
		}
	}
	return false
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// BenchmarkMesosStreamDNSFreshness10k: change at the master → DNS table
// answers with it (a start) or without it (a kill), alternately.
func BenchmarkMesosStreamDNSFreshness10k(b *testing.B) {
	c, err := sim.New(sim.Config{Apps: 1000, TasksPerApp: 10, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	log := slog.New(slog.DiscardHandler)
	src, err := mesos.NewStream(mesos.StreamConfig{PollConfig: mesos.PollConfig{Masters: []string{c.Leader().Addr()}}}, log)
	if err != nil {
		b.Fatal(err)
	}
	hub := state.NewHub(0, 200*time.Millisecond, log) // the daemon's defaults
	var tab atomic.Pointer[dnsserver.Table]
	cfg := dnsserver.DefaultConfig()
	cfg.Domain = "mesos"
	tab.Store(dnsserver.Build(nil, cfg))
	built := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); hub.Run(ctx) }()
	go func() { defer wg.Done(); dnsPath(ctx, hub, &tab, built) }()
	go func() { defer wg.Done(); _ = src.Run(ctx, hub) }()
	defer func() { cancel(); wg.Wait() }()

	var s dnsserver.Scratch
	wait := func(cond func() bool) (time.Time, bool) {
		deadline := time.NewTimer(60 * time.Second)
		defer deadline.Stop()
		for !cond() {
			select {
			case <-built:
			case <-deadline.C:
				return time.Time{}, false
			}
		}
		return time.Now(), true
	}
	apps := c.Truth().Apps
	first := apps[0]
	if _, ok := wait(func() bool { return srvHas(tab.Load(), &s, first, first.Tasks[0].Addr().String()) }); !ok {
		b.Fatal("no table with the cluster in 60s")
	}
	var start, kill []time.Duration
	for i := 0; b.Loop(); i++ {
		app := apps[i%len(apps)]
		ch, err := c.StartTask(app.ID)
		if err != nil {
			b.Fatal(err)
		}
		addr := ch.Addr.String()
		seen, ok := wait(func() bool { return srvHas(tab.Load(), &s, app, addr) })
		if !ok {
			b.Fatalf("task %s not in DNS in 60s", ch.Task)
		}
		start = append(start, ch.Latency(seen))
		kc, err := c.KillTask(ch.Task)
		if err != nil {
			b.Fatal(err)
		}
		seen, ok = wait(func() bool { return !srvHas(tab.Load(), &s, app, addr) })
		if !ok {
			b.Fatalf("task %s still in DNS after 60s", ch.Task)
		}
		kill = append(kill, kc.Latency(seen))
	}
	report := func(ds []time.Duration, what string) {
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, what+"-p50-ms")
		b.ReportMetric(float64(ds[min(len(ds)-1, len(ds)*99/100)].Microseconds())/1000, what+"-p99-ms")
	}
	report(start, "start")
	report(kill, "kill")
}
