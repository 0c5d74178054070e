package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/internal/sim"
)

// badPortTask is a Mesos task of the simulated cluster's framework, named
// "evil", whose discovery info has a port number of -1 (an app author's
// value), at ip.
func badPortTask(c *sim.Cluster, ip string) map[string]any {
	tr := c.Truth()
	return map[string]any{
		"id": "evil.1", "name": "evil", "framework_id": tr.FrameworkID, "slave_id": tr.Agents[0].ID,
		"state": "TASK_RUNNING",
		"discovery": map[string]any{"visibility": "FRAMEWORK", "name": "evil",
			"ports": map[string]any{"ports": []any{map[string]any{"number": -1, "name": "http", "protocol": "tcp"}}}},
		"statuses": []any{map[string]any{
			"state": "TASK_RUNNING", "timestamp": float64(time.Now().Unix()),
			"container_status": map[string]any{"network_infos": []any{map[string]any{
				"ip_addresses": []any{map[string]any{"ip_address": ip}},
			}}},
		}},
	}
}

// waitLeftOut waits for /status.json to list a left-out record naming id.
func waitLeftOut(t *testing.T, d *daemon, id string) {
	t.Helper()
	waitFor(t, 20*time.Second, id+" listed as left out on /status.json", func() bool {
		return slices.ContainsFunc(d.status(t).leftOut(), func(s string) bool { return strings.HasPrefix(s, id+": ") })
	})
}

// A Mesos task with a discovery port of -1 costs only that port: /master/state
// is still used, the task keeps its A record, other tasks' changes reach DNS,
// and the port is reported (status page, metric, log). (Before: the whole
// state was rejected and DNS froze.)
func TestSecurityBadMesosPortHurtsOnlyItself(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 2, TasksPerApp: 2, Seed: 201})
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr(), "-mesosFollow=poll")
	waitDNS(t, d, c, 20*time.Second)
	if err := c.OperatorAPIs()[0].AddTask(badPortTask(c, "127.0.9.9")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartTask(c.Truth().Apps[0].ID); err != nil {
		t.Fatal(err)
	}
	waitDNS(t, d, c, 20*time.Second)
	// The view with the bad task is used, the task kept.
	waitFor(t, 20*time.Second, "an A record for the task with the bad port", func() bool {
		got, err := d.aRecords("evil.marathon." + domain)
		return err == nil && slices.Equal(got, []string{"127.0.9.9"})
	})
	waitLeftOut(t, d, "evil.1")
	if v := d.metric(t, "discovery_source_left_out"); v != 1 {
		t.Errorf("discovery_source_left_out = %v, want 1", v)
	}
	if !strings.Contains(d.logText(), "left out of the view") {
		t.Error("the log does not say what was left out")
	}
	if errs := d.status(t).sourceErrors(); errs != "" {
		t.Errorf("a source is failing: %s", errs)
	}
}

// A master whose event stream cannot be decoded (the same task: mesos-go
// refuses a port of -1 in every SUBSCRIBED) is subscribed to a few times,
// then polled, so DNS follows the cluster again; it is not subscribed to
// again and again. (Before: resubscribed several times a second forever,
// DNS frozen.)
func TestSecurityUndecodableStreamFallsBackToPolling(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 2, TasksPerApp: 2, Seed: 203, Heartbeat: 200 * time.Millisecond})
	api := c.OperatorAPIs()[0]
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr())
	waitDNS(t, d, c, 20*time.Second)
	subs := api.Subscriptions()
	if err := api.AddTask(badPortTask(c, "127.0.9.10")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartTask(c.Truth().Apps[1].ID); err != nil {
		t.Fatal(err)
	}
	took := waitDNS(t, d, c, 20*time.Second)
	waitFor(t, 10*time.Second, "the stream's polling fallback on /metrics", func() bool {
		return d.metric(t, "discovery_mesos_stream_polling_fallback") == 1
	})
	// A second of polling (refreshSeconds=1) with no subscription.
	settled := api.Subscriptions()
	polls := d.metric(t, "discovery_mesos_fetches_total")
	waitFor(t, 10*time.Second, "two more polls", func() bool { return d.metric(t, "discovery_mesos_fetches_total") >= polls+2 })
	if n := api.Subscriptions(); n != settled || n-subs > 4 {
		t.Errorf("subscriptions: %d before the bad task, %d when polling began, %d two polls later: want at most 3 more, then none", subs, settled, n)
	}
	t.Logf("DNS current %v after the stream became undecodable; %d subscriptions before polling", took.Round(time.Millisecond), settled-subs)
	waitLeftOut(t, d, "evil.1")
}

// A Marathon app with a service port of 70000, or one arriving later with a
// port of -1, is left out, reported on /status.json and /metrics; every
// other app stays routed and takes changes. (Before: the whole /v2/apps
// fetch failed and HAProxy froze.)
func TestSecurityBadMarathonPortHurtsOnlyItsApp(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 2, TasksPerApp: 2, Seed: 205, Backends: true})
	evil := func(id string, port int) fakemarathon.App {
		return fakemarathon.App{ID: id, Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "external"},
			PortDefinitions: []fakemarathon.PortDefinition{{Port: port, Protocol: "tcp"}}}
	}
	c.Marathon().PutApp(evil("/evil-a", 70000))
	lb := newLB(t)
	d := startDaemon(t, true, append([]string{"-masters=" + c.Masters()[0].Addr(), "--marathon", c.MarathonURL()}, lb.args...)...)
	waitTraffic(t, c, 30*time.Second)
	waitLeftOut(t, d, "/evil-a")

	// One more through Marathon's event stream, then a change to a good app.
	c.Marathon().PutApp(evil("/evil-b", -1))
	waitLeftOut(t, d, "/evil-b")
	if _, err := c.StartTask(c.Truth().Apps[0].ID); err != nil {
		t.Fatal(err)
	}
	waitLB(t, lb.cfg, c, 20*time.Second)
	waitTraffic(t, c, 15*time.Second)
	if v := d.metric(t, "discovery_source_left_out"); v != 2 {
		t.Errorf("discovery_source_left_out = %v, want 2", v)
	}
	cfg, err := os.ReadFile(lb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "evil") {
		t.Error("a left-out app is in the HAProxy config")
	}
	t.Logf("left out: %v", d.status(t).leftOut())
}

// Temp files that interrupted config writes left beside the HAProxy config
// (our own names only) are removed at start; an operator's files stay.
// (Before: they stayed forever.)
func TestSecurityStaleTempFilesRemovedAtStart(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 207, Backends: true})
	lb := newLB(t)
	stale := []string{".haproxy.cfg.tmp-4711", ".haproxy.cfg.check-12", ".domain2backend.map.tmp-99"}
	kept := []string{".haproxy.cfg.swp", "notes.tmp-1", ".other.cfg.tmp-1"}
	for _, n := range append(slices.Clone(stale), kept...) {
		if err := os.WriteFile(filepath.Join(lb.dir, n), []byte("global\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := startDaemon(t, true, append([]string{"-masters=" + c.Masters()[0].Addr()}, lb.args...)...)
	waitLB(t, lb.cfg, c, 30*time.Second)
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(lb.dir, n)); !os.IsNotExist(err) {
			t.Errorf("stale temp file %s not removed (%v)", n, err)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(lb.dir, n)); err != nil {
			t.Errorf("%s, not ours, was removed: %v", n, err)
		}
	}
	if !strings.Contains(d.logText(), "removed temp files left by interrupted writes") {
		t.Error("the removal is not logged")
	}
}
