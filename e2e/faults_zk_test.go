package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/sim"
	"github.com/discovery-mesos/discovery/internal/zktest"
)

// zkCluster is three masters electing through a real ZooKeeper, and a daemon
// that finds the leader there alone (no static masters).
func zkCluster(t *testing.T) (*zktest.Server, *sim.Cluster, *daemon) {
	t.Helper()
	srv := zktest.Start(t)
	c := newCluster(t, sim.Config{Apps: 3, TasksPerApp: 2, Masters: 3, Seed: 21, ZK: srv.Connect(t), ZKPath: "/mesos", Heartbeat: 200 * time.Millisecond})
	d := startDaemon(t, true, "-zk=zk://"+srv.Addr()+"/mesos", "-masters=", "-zkDetectionTimeout=0")
	waitDNS(t, d, c, 30*time.Second)
	return srv, c, d
}

// followLeader changes the leader, starts a task on the new one and checks the
// promise that the daemon names the new leader on /status.json and serves the
// new task in DNS within 2 s of the change.
func followLeader(t *testing.T, c *sim.Cluster, d *daemon, timeout time.Duration) {
	t.Helper()
	ch, err := c.ChangeLeader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartTask(c.Truth().Apps[0].ID); err != nil {
		t.Fatal(err)
	}
	leader := c.Leader().Addr()
	// Product promise: a leader change is followed within 2 s.
	prom := newPromise("following a leader change through ZooKeeper", 2*time.Second, d.Cmd.Process.Pid, ch.At)
	waitFor(t, timeout, "the daemon following the new leader "+leader, func() bool {
		st := d.status(t)
		if st.Leader == nil || st.Leader.Address != leader {
			return false
		}
		ok, _ := dnsAgrees(d, c.Truth())
		return ok
	})
	took, waited := prom.check(t, time.Now())
	t.Logf("new leader %s followed, with a task started on it, in %v (%v of it waiting for a CPU)", leader, took.Round(time.Millisecond), waited.Round(time.Millisecond))
}

// A leader change through ZooKeeper is followed within 2 s (a promise,
// checked in followLeader).
func TestFaultLeaderChangeThroughZooKeeper(t *testing.T) {
	_, c, d := zkCluster(t)
	for range 3 {
		followLeader(t, c, d, 10*time.Second)
	}
}

// ZooKeeper going away and coming back does not stop the daemon: DNS keeps
// answering meanwhile, and a leader change afterwards is followed.
func TestFaultZooKeeperRestart(t *testing.T) {
	srv, c, d := zkCluster(t)
	before := c.Truth()
	srv.Stop()
	down := time.Now()
	for time.Since(down) < 3*time.Second {
		if ok, diff := dnsAgrees(d, before); !ok {
			t.Fatalf("with ZooKeeper down, DNS lost its view: %s", diff)
		}
		if !d.Alive() {
			t.Fatalf("the daemon exited with ZooKeeper down: %v", d.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.Restart()
	waitFor(t, 30*time.Second, "the daemon reconnecting to ZooKeeper", func() bool {
		return strings.Count(d.logText(), "zookeeper session established") >= 2
	})
	// A restart that outlasts the session timeout (a slow JVM start on a busy
	// machine) expires the masters' sessions and their election nodes with
	// them; real masters stand for election again, and so does the sim.
	if n, err := c.RejoinZK(30 * time.Second); err != nil {
		t.Fatal(err)
	} else if n > 0 {
		t.Logf("ZooKeeper expired the masters' sessions; %d masters registered again", n)
		waitDNS(t, d, c, 30*time.Second)
	}
	// The same 2 s promise after ZooKeeper restarted, checked in followLeader.
	followLeader(t, c, d, 15*time.Second)
	if !d.Alive() {
		t.Fatal("the daemon exited")
	}
}

// /metrics says whether the ZooKeeper session is up, in the default (event
// stream) mode too.
func TestFaultZooKeeperConnectedMetric(t *testing.T) {
	srv, _, d := zkCluster(t)
	waitFor(t, 5*time.Second, "discovery_mesos_zk_connected 1 with a live session (BUG: the gauge is only set by the poller's loop, never in -mesosFollow=stream)", func() bool {
		return d.metric(t, "discovery_mesos_zk_connected") == 1
	})
	srv.Stop()
	waitFor(t, 10*time.Second, "discovery_mesos_zk_connected 0 with ZooKeeper down", func() bool {
		return d.metric(t, "discovery_mesos_zk_connected") == 0
	})
}
