package main

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/state"
)

// taskHealth returns the health the daemon's DNS table was last built with
// for task id (nil: none reported), and whether the table has the task.
func taskHealth(d *daemon, id string) (*bool, bool) {
	tab := d.dnsTable.Load()
	if tab == nil || tab.Cluster() == nil {
		return nil, false
	}
	for i := range tab.Cluster().Tasks {
		if t := tab.Cluster().Tasks[i]; t.ID == id {
			return t.Healthy, true
		}
	}
	return nil, false
}

func srvCount(t *testing.T, addr, name string) int {
	n := 0
	for _, rr := range query(t, "udp", addr, name, dns.TypeSRV).Answer {
		if _, ok := rr.(*dns.SRV); ok {
			n++
		}
	}
	return n
}

// With healthAwareAnswers, a task whose Mesos health check turns unhealthy
// (a TASK_UPDATED event on the master's stream) leaves the A and SRV answers
// over real DNS, and comes back when it turns healthy; tasks without a health
// check are answered throughout. A daemon without the setting (mesos-dns's
// behaviour) answers for the unhealthy task.
func TestDaemonHealthAwareAnswers(t *testing.T) {
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	api := m.EnableOperatorAPI()
	onCfg := mesosDNSConfig(t, []string{m.Addr()}, "", 60)
	onCfg.HealthAwareAnswers = true
	on := startDaemon(t, onCfg)
	off := startDaemon(t, mesosDNSConfig(t, []string{m.Addr()}, "", 60))
	onAddr, offAddr := on.dns.Addr(), off.dns.Addr()
	const chronos = "chronos.49b91a9a-3dda-11e4-a088-c20493233aa5"
	for _, d := range []*daemon{on, off} {
		waitFor(t, 10*time.Second, "tasks served", func() bool { return resolves(t, d.dns.Addr(), "chronos.marathon.mesos") })
	}
	srvBefore := srvCount(t, onAddr, "_chronos._tcp.marathon.mesos")
	if srvBefore == 0 {
		t.Fatal("no SRV records for chronos before any health report")
	}

	for round, healthy := range []bool{false, true, false, true} {
		if err := api.UpdateTask(chronos, string(state.TaskRunning), map[string]any{"healthy": healthy}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the health change in both tables", func() bool {
			for _, d := range []*daemon{on, off} {
				if h, ok := taskHealth(d, chronos); !ok || h == nil || *h != healthy {
					return false
				}
			}
			return true
		})
		wantSRV := srvBefore
		if !healthy {
			wantSRV = 0
		}
		if got := resolves(t, onAddr, "chronos.marathon.mesos"); got != healthy {
			t.Errorf("round %d, healthy %v: chronos A answered %v", round, healthy, got)
		}
		if got := srvCount(t, onAddr, "_chronos._tcp.marathon.mesos"); got != wantSRV {
			t.Errorf("round %d, healthy %v: %d SRV records, want %d", round, healthy, got, wantSRV)
		}
		if !resolves(t, onAddr, "nginx.marathon.mesos") {
			t.Errorf("round %d: a task without a health check left the answers", round)
		}
		if !resolves(t, offAddr, "chronos.marathon.mesos") || srvCount(t, offAddr, "_chronos._tcp.marathon.mesos") != srvBefore {
			t.Errorf("round %d: without the setting, chronos's answers changed", round)
		}
	}
}
