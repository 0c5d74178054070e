package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/sim"
)

// A cluster of 100,000 tasks in the default mode: the first event of the
// stream (SUBSCRIBED, 130 MB of v1 JSON here) is decoded as it arrives, and
// the daemon serves every name from the stream, without falling back to
// polling, then follows a change. (Shortened: DNS is checked, not HAProxy;
// bench/bigcluster measures the time and memory.)
func TestBigClusterDefaultMode(t *testing.T) {
	if testing.Short() {
		t.Skip("a 100,000-task cluster: not in -short")
	}
	began := time.Now()
	c := newCluster(t, sim.Config{Apps: 1000, TasksPerApp: 100, Seed: 301})
	built := time.Since(began)
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr())
	took := waitDNS(t, d, c, 3*time.Minute)
	t.Logf("cluster of %d tasks built in %v; every app's A records served %v later", len(c.Truth().Tasks()), built.Round(time.Millisecond), took.Round(time.Millisecond))
	if !strings.Contains(d.logText(), `"tasks":100000`) || !strings.Contains(d.logText(), "subscribed to the mesos event stream") {
		t.Error("the log does not say the stream was subscribed to with 100,000 tasks")
	}
	if v := d.metric(t, "discovery_mesos_stream_polling_fallback"); v != 0 {
		t.Errorf("polling fallback = %v, want 0: the stream serves this cluster", v)
	}
	if n := c.Leader().RequestsFor("/master/state"); n != 0 {
		t.Errorf("%d fetches of /master/state, want none", n)
	}
	ch, err := c.StartTask(c.Truth().Apps[7].ID)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("the new task %s in DNS", ch.Task), func() bool {
		got, err := d.aRecords("app-007.sim.marathon." + domain)
		if err != nil {
			return false
		}
		for _, a := range got {
			if a == ch.Addr.Addr().String() {
				return true
			}
		}
		return false
	})
}
