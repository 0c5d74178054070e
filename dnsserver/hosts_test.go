package dnsserver

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// fakeLookup is a resolver the test controls: names map to addresses, a
// name missing from it does not resolve, and a name in block waits until
// the lookup's context ends.
type fakeLookup struct {
	mu    sync.Mutex
	names map[string][]netip.Addr
	block map[string]bool
	calls map[string]int
}

func (f *fakeLookup) set(name string, as ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[name] = addrs(as...)
}

func (f *fakeLookup) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	f.calls[host]++
	blocked := f.block[host]
	as, ok := f.names[host]
	f.mu.Unlock()
	if blocked {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if !ok {
		return nil, errors.New("no such host")
	}
	return slices.Clone(as), nil
}

// namedCluster has an agent and frameworks known by host name only: an
// agent whose PID holds a name, a scheduler whose PID does, an HTTP API
// scheduler with no PID, and an agent whose name does not resolve.
func namedCluster() *state.Cluster {
	return (&state.Cluster{
		Leader: state.Master{Host: "127.0.0.1", Port: 5050},
		Agents: []state.Agent{
			{ID: "a-S1", PID: "slave(1)@agent-one:5051", Host: "agent-one", Port: 5051},
			{ID: "a-S2", PID: "slave(1)@agent-lost:5051", Host: "agent-lost", Port: 5051},
		},
		Frameworks: []state.Framework{
			{ID: "f1", Name: "marathon", PID: "scheduler@sched-host:8080", Host: "sched-host", Port: 8080, Hostname: "other"},
			{ID: "f2", Name: "http-sched", Hostname: "http-host"},
		},
		Tasks: []*state.Task{
			{ID: "web.1", Name: "web", FrameworkID: "f1", AgentID: "a-S1", State: state.TaskRunning,
				Ports: []state.PortRange{{Begin: 31000, End: 31000}}},
			{ID: "job.1", Name: "job", FrameworkID: "f2", AgentID: "a-S2", State: state.TaskRunning,
				NetInfo: addrs("127.0.9.1"), Ports: []state.PortRange{{Begin: 31001, End: 31001}}},
		},
	}).Seal()
}

func lookupAddrs(tab *Table, name string, qtype uint16) (rcode int, out []string) {
	var s Scratch
	res := tab.Lookup(name, qtype, &s)
	for _, rr := range res.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		case *dns.SRV:
			out = append(out, v.Target)
		}
	}
	slices.Sort(out)
	return res.Rcode, out
}

// Issue 12: agents and frameworks known by host name are resolved, as
// mesos-dns resolved them, and get their records; a name that does not
// resolve is reported and costs only the records that need its address.
func TestHostNamesAreResolved(t *testing.T) {
	f := &fakeLookup{names: map[string][]netip.Addr{}, block: map[string]bool{}, calls: map[string]int{}}
	f.set("agent-one", "127.0.1.1", "::ffff:127.0.1.2", "fd00::1")
	f.set("sched-host", "127.0.2.1")
	f.set("http-host", "127.0.3.1")
	logs := &statetest.LogBuffer{}
	u, snaps := runUpdater(t, UpdaterOptions{Config: testConfig(), Lookup: f.lookup,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	changed := u.Changed()
	snaps <- &state.Snapshot{Seq: 1, Cluster: namedCluster()}
	// The first table comes at once; the one with the looked-up addresses
	// follows when the lookups are done.
	tab := waitTable(t, u, changed, func(tab *Table) bool {
		_, got := lookupAddrs(tab, "http-sched.mesos.", dns.TypeA)
		_, got2 := lookupAddrs(tab, "slave.mesos.", dns.TypeA)
		_, got3 := lookupAddrs(tab, "marathon.mesos.", dns.TypeA)
		return len(got) == 1 && len(got2) == 2 && len(got3) == 1
	})
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"slave.mesos.", dns.TypeA, dns.RcodeSuccess, []string{"127.0.1.1", "127.0.1.2"}},
		{"slave.mesos.", dns.TypeAAAA, dns.RcodeSuccess, []string{"fd00::1"}},
		{"_slave._tcp.mesos.", dns.TypeSRV, dns.RcodeSuccess, []string{"slave.mesos."}},
		{"marathon.mesos.", dns.TypeA, dns.RcodeSuccess, []string{"127.0.2.1"}},
		{"_framework._tcp.marathon.mesos.", dns.TypeSRV, dns.RcodeSuccess, []string{"marathon.mesos."}},
		// No PID: the host name's addresses, and no SRV (no port).
		{"http-sched.mesos.", dns.TypeA, dns.RcodeSuccess, []string{"127.0.3.1"}},
		{"_framework._tcp.http-sched.mesos.", dns.TypeSRV, dns.RcodeNameError, nil},
		// The task on the named agent: "host" is its agent's addresses.
		{"web.marathon.mesos.", dns.TypeA, dns.RcodeSuccess, []string{"127.0.1.1", "127.0.1.2"}},
		{"web.marathon.slave.mesos.", dns.TypeAAAA, dns.RcodeSuccess, []string{"fd00::1"}},
		// The task on the agent whose name does not resolve keeps its
		// records; its .slave name exists with no address (NODATA).
		{"job.http-sched.mesos.", dns.TypeA, dns.RcodeSuccess, []string{"127.0.9.1"}},
		{"_job._tcp.http-sched.mesos.", dns.TypeSRV, dns.RcodeSuccess, []string{"job-" + hash5("job.1") + "-s2.http-sched.slave.mesos."}},
		{"job.http-sched.slave.mesos.", dns.TypeA, dns.RcodeSuccess, nil},
	} {
		rcode, got := lookupAddrs(tab, tc.name, tc.qtype)
		if rcode != tc.rcode || !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: %s %v, want %s %v", tc.name, dns.TypeToString[tc.qtype],
				dns.RcodeToString[rcode], got, dns.RcodeToString[tc.rcode], tc.want)
		}
	}
	// Reported: a log line, and the gauge of names that do not resolve.
	waitGauge(t, u.m.unresolved, 1)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `does not resolve; its records wait for it" host=agent-lost`) {
		if time.Now().After(deadline) {
			t.Fatalf("the name that does not resolve is not reported:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The frameworks' PID host wins over its host name, as in mesos-dns.
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls["other"] != 0 {
		t.Errorf("looked up the host name of a framework with a PID")
	}
}

// A host name whose addresses change is served with the new ones after the
// next refresh, and a lookup that hangs neither holds a build nor runs past
// its timeout.
func TestHostNamesRefreshAndTimeOut(t *testing.T) {
	f := &fakeLookup{names: map[string][]netip.Addr{}, block: map[string]bool{"http-host": true}, calls: map[string]int{}}
	f.set("agent-one", "127.0.1.1")
	f.set("sched-host", "127.0.2.1")
	u := NewUpdater(UpdaterOptions{Config: testConfig(), Lookup: f.lookup, HostRefresh: 20 * time.Millisecond})
	u.hosts.timeout = 50 * time.Millisecond
	snaps := make(chan *state.Snapshot)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx, snaps) }()
	defer func() { cancel(); <-done }()

	changed := u.Changed()
	snaps <- &state.Snapshot{Seq: 1, Cluster: namedCluster()}
	waitTable(t, u, changed, func(tab *Table) bool {
		_, got := lookupAddrs(tab, "slave.mesos.", dns.TypeA)
		return slices.Equal(got, []string{"127.0.1.1"})
	})
	f.set("agent-one", "127.0.1.9")
	waitTable(t, u, u.Changed(), func(tab *Table) bool {
		_, got := lookupAddrs(tab, "slave.mesos.", dns.TypeA)
		return slices.Equal(got, []string{"127.0.1.9"})
	})
	// A name that did not resolve and then does leaves the gauge: of
	// agent-lost (never resolves) and http-host (hangs, and times out),
	// only agent-lost is left.
	waitGauge(t, u.m.unresolved, 2)
	f.mu.Lock()
	f.block["http-host"] = false
	f.names["http-host"] = addrs("127.0.3.1")
	f.mu.Unlock()
	waitGauge(t, u.m.unresolved, 1)
	// The hanging name was given up on and asked again on later refreshes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := f.calls["http-host"]
		f.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hanging lookup was asked %d times, want it timed out and asked again", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitTable waits, build after build (from changed on), for a table that
// satisfies ok, and returns it.
func waitTable(t *testing.T, u *Updater, changed <-chan struct{}, ok func(*Table) bool) *Table {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case <-changed:
		case <-timeout:
			t.Fatal("no table as wanted within 5s")
		}
		changed = u.Changed()
		if tab := u.Load(); tab != nil && ok(tab) {
			return tab
		}
	}
}

// Table.update builds afresh when the host addresses change, and the result
// answers as a full build does.
func TestUpdateWithNewHostAddrs(t *testing.T) {
	c := namedCluster()
	cfg := testConfig()
	h1 := HostAddrs{"agent-one": addrs("127.0.1.1"), "sched-host": addrs("127.0.2.1")}
	h2 := HostAddrs{"agent-one": addrs("127.0.1.5"), "sched-host": addrs("127.0.2.1")}
	tab := build(c, cfg, h1)
	next := tab.update(c, h2)
	want := build(c, cfg, h2)
	if !slices.Equal(allRecords(next), allRecords(want)) {
		t.Errorf("update with new host addresses:\n%v\nwant\n%v", allRecords(next), allRecords(want))
	}
	if _, got := lookupAddrs(next, "web.marathon.slave.mesos.", dns.TypeA); !slices.Equal(got, []string{"127.0.1.5"}) {
		t.Errorf("web.marathon.slave.mesos: %v", got)
	}
	// The same addresses again: Update keeps them.
	if got := next.Update(c); !slices.Equal(allRecords(got), allRecords(want)) {
		t.Errorf("Update lost the host addresses")
	}
}

func allRecords(t *Table) []string {
	var out []string
	for rr := range t.All() {
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}
