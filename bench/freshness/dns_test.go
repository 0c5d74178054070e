package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
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
// once, at most 200 ms late) and the daemon's dnsserver.Updater, on a
// 10,000-task cluster. No HAProxy, no load balancer, no sockets between the
// table and the question: what main.go measures end to end, less those.

// srvHas reports whether the table's SRV answer for the app lists the task at
// addr (never before the first table).
func srvHas(t *dnsserver.Table, s *dnsserver.Scratch, app sim.App, want string) bool {
	if t == nil {
		return false
	}
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
	cfg := dnsserver.DefaultConfig()
	cfg.Domain = "mesos"
	tab := dnsserver.NewUpdater(dnsserver.UpdaterOptions{Config: cfg})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); hub.Run(ctx) }()
	go func() { defer wg.Done(); _ = tab.Run(ctx, hub.Subscribe()) }()
	go func() { defer wg.Done(); _ = src.Run(ctx, hub) }()
	defer func() { cancel(); wg.Wait() }()

	var s dnsserver.Scratch
	wait := func(cond func() bool) (time.Time, bool) {
		deadline := time.NewTimer(60 * time.Second)
		defer deadline.Stop()
		for {
			built := tab.Changed()
			if cond() {
				return time.Now(), true
			}
			select {
			case <-built:
			case <-deadline.C:
				return time.Time{}, false
			}
		}
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
