package dnsserver

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/discovery-mesos/discovery/state"
)

// runUpdater runs an Updater over a channel the test feeds, until the test ends.
func runUpdater(t *testing.T, opts UpdaterOptions) (*Updater, chan<- *state.Snapshot) {
	t.Helper()
	u := NewUpdater(opts)
	snaps := make(chan *state.Snapshot)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx, snaps) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return u, snaps
}

// publish hands snap to the updater and waits until the table built from it
// is swapped in.
func publish(t *testing.T, u *Updater, snaps chan<- *state.Snapshot, snap *state.Snapshot) {
	t.Helper()
	changed := u.Changed()
	snaps <- snap
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatalf("no table built from snapshot %d", snap.Seq)
	}
}

// waitGauge polls g until it reads want or the deadline passes.
func waitGauge(t *testing.T, g prometheus.Collector, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(g) != want {
		if time.Now().After(deadline) {
			t.Fatalf("gauge = %v, want %v", testutil.ToFloat64(g), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestUpdaterServesNothingBeforeTheFirstView(t *testing.T) {
	u, snaps := runUpdater(t, UpdaterOptions{Config: hsConfig()})
	if u.Load() != nil || u.Builds() != 0 {
		t.Fatalf("before any snapshot: table %v, %d builds", u.Load(), u.Builds())
	}
	// A Marathon-only snapshot builds nothing either.
	snaps <- &state.Snapshot{Seq: 1, Apps: &state.AppSet{}}
	waitGauge(t, u.m.snapshotSeq, 1)
	if u.Load() != nil || u.Builds() != 0 {
		t.Fatalf("after a Marathon-only snapshot: table %v, %d builds", u.Load(), u.Builds())
	}
	// The handler answers SERVFAIL from it, never NXDOMAIN.
	got, _ := hsServe(t, NewHandler(u, nil, HandlerConfig{}, nil), new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeA), true)
	if got.Rcode != dns.RcodeServerFailure {
		t.Errorf("before the first view: %s, want SERVFAIL", dns.RcodeToString[got.Rcode])
	}
}

func TestUpdaterBuildsAndSwaps(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	u, snaps := runUpdater(t, UpdaterOptions{
		Config:     hsConfig(),
		Registerer: reg,
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
	})
	h := NewHandler(u, nil, HandlerConfig{}, nil)

	c1 := hsCluster()
	publish(t, u, snaps, &state.Snapshot{Seq: 1, Cluster: c1})
	t1 := u.Load()
	if t1 == nil || t1.Cluster() != c1 || u.Builds() != 1 {
		t.Fatalf("after the first view: table %p of %p, %d builds", t1, c1, u.Builds())
	}
	if got, _ := hsServe(t, h, new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA), true); len(got.Answer) != 3 {
		t.Fatalf("web.marathon.mesos. A: %v", got.Answer)
	}
	if !strings.Contains(logs.String(), `msg="dns table built" seq=1 source=test tasks=4`) ||
		!strings.Contains(logs.String(), `tasks_started=4 tasks_stopped=0 started="db.0 web.0 web.1 and 1 more"`) {
		t.Errorf("build not logged, or not what it changed: %s", logs.String())
	}
	if got := testutil.ToFloat64(u.m.records); got != float64(t1.Records()) {
		t.Errorf("discovery_dns_records = %v, want %d", got, t1.Records())
	}
	if got := testutil.ToFloat64(u.m.tasks); got != 4 {
		t.Errorf("discovery_snapshot_tasks = %v, want 4", got)
	}
	if n, err := testutil.GatherAndCount(reg, "discovery_dns_table_build_seconds", "discovery_snapshot_sequence",
		"discovery_snapshot_tasks", "discovery_dns_records"); err != nil || n != 4 {
		t.Errorf("registered metrics: %d, %v; want 4", n, err)
	}

	// The same Mesos view with new Marathon apps: nothing to build.
	snaps <- &state.Snapshot{Seq: 2, Cluster: c1, Apps: &state.AppSet{}}
	waitGauge(t, u.m.snapshotSeq, 2)
	if u.Load() != t1 || u.Builds() != 1 {
		t.Errorf("an unchanged Mesos view built a table (%d builds)", u.Builds())
	}

	// A new view is updated from the previous table and swapped in; the old
	// table is left as it was for the queries still reading it.
	c2 := hsCluster()
	c2.Tasks = c2.Tasks[:1] // db.0 sorts first: web is gone
	publish(t, u, snaps, &state.Snapshot{Seq: 3, Cluster: c2.Seal()})
	if u.Load() == t1 || u.Builds() != 2 || testutil.ToFloat64(u.m.snapshotSeq) != 3 {
		t.Fatalf("after the second view: same table %v, %d builds, seq %v", u.Load() == t1, u.Builds(), testutil.ToFloat64(u.m.snapshotSeq))
	}
	if got, _ := hsServe(t, h, new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA), true); got.Rcode != dns.RcodeNameError {
		t.Errorf("after the swap: %s %v, want NXDOMAIN", dns.RcodeToString[got.Rcode], got.Answer)
	}
	if !strings.Contains(logs.String(), `seq=3 source=test tasks=1`) ||
		!strings.Contains(logs.String(), `tasks_started=0 tasks_stopped=3 stopped="web.0 web.1 web.2"`) {
		t.Errorf("the update's log line does not say which tasks stopped: %s", logs.String())
	}
	if got, _ := hsServe(t, NewHandler(hsStatic{t1}, nil, HandlerConfig{}, nil), new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA), true); len(got.Answer) != 3 {
		t.Errorf("the previous table changed: %v", got.Answer)
	}
}

// hsStatic is a TableSource that always gives one table.
type hsStatic struct{ t *Table }

func (s hsStatic) Load() *Table { return s.t }
